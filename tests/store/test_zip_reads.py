"""Read-only `.zip` stores: rows read with one pread from ZIP_STORED members, same bytes as zarr."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from store_testkit import assert_rows_equal, write_trailers

from cinefeat.store import FeatureStore, StoreError, directio
from cinefeat.store.archive import write_stored_zip
from cinefeat.store.compact import compact
from cinefeat.store.zipmembers import stored_members


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, [f"t{i:02d}" for i in range(30)], commit_every=7, dims={"clip": 24})
    write_trailers(store, ["t03", "u1"], run="two", dims={"ocr": 4})
    return store


def _reader(store: FeatureStore, feature: str) -> directio.RowReader:
    fpart = store.index.feature_parts(feature)[0][1]
    fpart.read_rows(0, 0)
    assert fpart._value_reader is not None
    return fpart._value_reader


def _assert_reads_like(zipped: FeatureStore, original: FeatureStore) -> None:
    assert zipped.ids() == original.ids() and zipped.features() == original.features()
    for feature in original.features():
        for tid in original.committed(feature):
            assert_rows_equal(zipped.get(tid, feature), original.get(tid, feature))
        want, got = original.load_feature(feature), zipped.load_feature(feature)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2]


@pytest.mark.parametrize("rows_per_shard", [None, 64])
def test_zip_rows_are_read_directly_and_match(
    store: FeatureStore, tmp_path: Path, rows_per_shard: int | None
) -> None:
    if rows_per_shard:
        compact(store, rows_per_shard=rows_per_shard)
    zipped = FeatureStore.open(write_stored_zip(store.path, tmp_path / "s.zip"))
    reader = _reader(zipped, "clip")
    assert reader.direct and reader._zip is not None  # the pread path, not zarr's ZipStore
    assert (reader.shard_rows is not None) == bool(rows_per_shard)
    _assert_reads_like(zipped, FeatureStore.open(store.path))


def test_zarr_fallback_reads_the_same(store: FeatureStore, tmp_path: Path, monkeypatch) -> None:
    path = write_stored_zip(store.path, tmp_path / "s.zip")
    monkeypatch.setattr(directio, "DIRECT_READS", False)
    zipped = FeatureStore.open(path)
    assert not _reader(zipped, "clip").direct
    _assert_reads_like(zipped, store)


def test_compressed_zip_falls_back_to_zarr(store: FeatureStore, tmp_path: Path) -> None:
    path = tmp_path / "deflated.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for item in sorted(store.path.rglob("*")):
            if item.is_file():
                out.write(item, item.relative_to(store.path).as_posix())
    zipped = FeatureStore.open(path)
    assert not stored_members(path).all_stored and not _reader(zipped, "clip").direct
    _assert_reads_like(zipped, store)


def _rewrite_member(source: Path, out: Path, member: str, data: bytes | None) -> Path:
    """A copy of the stored zip `source` with `member` replaced by `data` (None: left out)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            if info.filename != member:
                new.writestr(info, old.read(info))
            elif data is not None:
                new.writestr(info, data)
    return out


def test_truncated_or_missing_member_is_an_error_naming_the_fix(
    store: FeatureStore, tmp_path: Path
) -> None:
    path = write_stored_zip(store.path, tmp_path / "s.zip")
    part = FeatureStore.open(path).index.feature_parts("clip")[0][1]
    member = f"{part.values.path}/c/0/0"
    with zipfile.ZipFile(path) as archive:
        data = archive.read(member)
    short = FeatureStore.open(_rewrite_member(path, tmp_path / "short.zip", member, data[:50]))
    # a trailer with rows in chunk 0, past the 50 bytes left
    first = next(
        tid
        for tid, (start, stop) in zip(part.ids, part.offsets.tolist(), strict=True)
        if stop > start and stop * part.values.shape[1] * 2 > 50 and start < part.values.chunks[0]
    )
    with pytest.raises(StoreError, match="truncated"):
        short.get(first, "clip")
    gone = FeatureStore.open(_rewrite_member(path, tmp_path / "gone.zip", member, None))
    with pytest.raises(StoreError, match="missing"):
        gone.get(first, "clip")


def test_rewritten_zip_is_not_read_with_stale_offsets(store: FeatureStore, tmp_path: Path) -> None:
    path = write_stored_zip(store.path, tmp_path / "s.zip")
    FeatureStore.open(path).load_feature("clip")  # caches the member table of this zip
    write_trailers(store, ["late"], run="three", dims={"clip": 24})
    shutil.copyfile(write_stored_zip(store.path, tmp_path / "new.zip"), path)
    _assert_reads_like(FeatureStore.open(path), FeatureStore.open(store.path))
