"""Compaction: same content out, one part, fewer files with shards, safe to interrupt and rerun."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from store_testkit import PROVENANCE, assert_rows_equal, rows_for, write_trailers

from cinefeat.store import FeatureStore, ReadOnlyStoreError, StoreError, TrailerRecord
from cinefeat.store.compact import STAGING, compact
from cinefeat.store.info import disk_usage


def _snapshot(store: FeatureStore) -> dict:
    return {
        tid: (store.record(tid), {f: store.get(tid, f) for f in store[tid]}) for tid in store.ids()
    }


def _part_dirs(store: FeatureStore) -> list[str]:
    return sorted(p.name for p in (store.path / "parts").iterdir() if p.is_dir())


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for tid, (record, feats) in a.items():
        assert b[tid][0] == record
        assert feats.keys() == b[tid][1].keys()
        for name, rows in feats.items():
            assert_rows_equal(b[tid][1][name], rows)


@pytest.fixture
def three_part_store(tmp_path: Path) -> FeatureStore:
    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, [f"a{i}" for i in range(40)], run="one", commit_every=9)
    write_trailers(store, [f"b{i}" for i in range(25)], run="two", dims={"clip": 8})
    write_trailers(store, ["a1", "a2"], run="three", dims={"audio": 3})  # new feature, old ids
    with store.writer(run="four") as writer:  # a retried trailer: the later record wins
        writer.add(TrailerRecord(id="a3", status="failed", stage="decode", error="eof"))
    return store


def test_compaction_keeps_exactly_what_readers_see(three_part_store: FeatureStore) -> None:
    store = three_part_store
    before = _snapshot(store)
    labels = store.labels()
    result = compact(store)
    assert len(result.replaced) == 4 and store.parts() == [result.part]
    reopened = FeatureStore.open(store.path)
    _assert_same(before, _snapshot(reopened))
    assert reopened.record("a3").status == "failed"
    assert reopened.provenance("clip") == FeatureStore.open(store.path).provenance("clip")
    assert reopened.labels() == labels
    assert not (store.path / STAGING).exists()
    assert _part_dirs(store) == [result.part]
    again = compact(reopened)
    assert again.part is None  # already compact: nothing rewritten


def test_sharded_compaction_uses_few_files(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="r") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=16, row_chunk=32)
        for i in range(60):
            writer.add(TrailerRecord(id=f"t{i:02d}"), {"clip": rows_for(i, 20, 16)})
            if i % 5 == 4:
                writer.commit()
    before = _snapshot(store)

    def values_dir() -> Path:
        return store.path / "parts" / _part_dirs(store)[0] / "features" / "clip" / "values"

    files_plain = disk_usage(values_dir())[0]
    assert files_plain == 1 + 1200 // 32 + 1  # zarr.json + 38 chunks of 32 rows
    compact(store, rows_per_shard=512)
    files_sharded = disk_usage(values_dir())[0]
    assert files_sharded == 1 + 3  # zarr.json + ceil(1200 / 512) shards
    _assert_same(before, _snapshot(FeatureStore.open(store.path)))


def test_interrupted_compaction_is_invisible_and_rerun_converges(
    three_part_store: FeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = three_part_store
    before = _snapshot(store)
    parts_before = store.parts()
    import cinefeat.store.compact as module

    calls = {"n": 0}
    real = module.write_feature

    def dies_on_second_feature(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "write_feature", dies_on_second_feature)
    with pytest.raises(KeyboardInterrupt):
        compact(store)
    monkeypatch.setattr(module, "write_feature", real)
    assert (store.path / STAGING).exists()
    reader = FeatureStore.open(store.path)
    assert reader.parts() == parts_before
    _assert_same(before, _snapshot(reader))
    result = compact(reader)
    assert result.removed_leftovers == [STAGING]
    _assert_same(before, _snapshot(FeatureStore.open(store.path)))


def test_interrupted_deletion_of_old_parts_is_ignored_then_cleaned(
    three_part_store: FeatureStore,
) -> None:
    store = three_part_store
    before = _snapshot(store)
    old = store.parts()
    backup = store.path.parent / "backup"
    shutil.copytree(store.path / "parts", backup)
    result = compact(store)
    # put two replaced parts back, one of them half deleted: as if killed while deleting
    for name in old[:2]:
        shutil.copytree(backup / name, store.path / "parts" / name)
    shutil.rmtree(store.path / "parts" / old[1] / "features")
    reader = FeatureStore.open(store.path)
    assert reader.parts() == [result.part]
    _assert_same(before, _snapshot(reader))
    rerun = compact(reader)
    assert sorted(rerun.removed_leftovers) == sorted(old[:2])
    assert _part_dirs(store) == [result.part]


def test_compaction_drops_uncommitted_tail(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    writer = store.writer(run="r")
    writer.declare_feature("clip", provenance=PROVENANCE, dim=4)
    writer.add(TrailerRecord(id="kept"), {"clip": rows_for(0, 3, 4)})
    writer.commit()
    writer.add(TrailerRecord(id="lost"), {"clip": rows_for(1, 5, 4)})
    # write the batch's rows and index but not the commit point (what a kill leaves behind)
    writer._write_features({"clip": {"entries": 1, "rows": 3}})
    writer._write_trailer_index(0.0)
    assert writer._declared["clip"].values.shape[0] >= 8  # the tail is on disk
    store.refresh()
    assert store.ids() == ["kept"]
    compact(store)
    values, _, offsets = FeatureStore.open(store.path).load_feature("clip")
    assert offsets == {"kept": (0, 3)} and len(values) == 3
    np.testing.assert_array_equal(values, rows_for(0, 3, 4).values)


def test_compaction_stops_when_a_part_commits_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cinefeat.store.compact as module

    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, ["a", "b"], run="done")
    busy = FeatureStore.open(store.path).writer(run="busy")
    busy.add(TrailerRecord(id="c"))
    busy.commit()
    # as if the writer froze on another machine past its lease: no lock, no lease left to see
    busy.lease.release()
    real = module.write_trailers

    def writer_commits_meanwhile(part, table):
        real(part, table)
        busy.add(TrailerRecord(id="d"))
        busy.commit()

    monkeypatch.setattr(module, "write_trailers", writer_commits_meanwhile)
    parts = store.parts()
    with pytest.raises(StoreError, match="committed or renewed their writer's lease"):
        compact(store)
    reader = FeatureStore.open(store.path)
    assert reader.parts() == parts and reader.ids() == ["a", "b", "c", "d"]
    assert not (store.path / STAGING).exists()


def test_compact_refuses_a_read_only_store(three_part_store: FeatureStore) -> None:
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
        compact(FeatureStore.open(three_part_store.path, read_only=True))
