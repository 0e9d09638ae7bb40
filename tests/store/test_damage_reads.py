"""Damage never reads as data (issue 16, item 4): each case is reported by `validate` and raises
`StoreIntegrityError` naming the part (and trailer) on read, instead of returning garbage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from store_testkit import PROVENANCE, rows_for

from cinefeat.store import FeatureStore, TrailerRecord
from cinefeat.store.archive import write_stored_zip
from cinefeat.store.compact import compact
from cinefeat.store.errors import StoreFormatError, StoreIntegrityError
from cinefeat.store.hdf5 import export_hdf5
from cinefeat.store.validate import validate
from cinefeat.store.zipmembers import stored_members


def _store(tmp_path: Path) -> FeatureStore:
    """t0..t9 with clip rows (dim 8, float16, 16-row chunks) of 3..12 rows, in 2 commits."""
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="r") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=8, row_chunk=16)
        for i in range(10):
            writer.add(TrailerRecord(id=f"t{i}"), {"clip": rows_for(i, 3 + i, 8)})
            if i == 4:
                writer.commit()
    return store


def _clip(store: FeatureStore) -> Path:
    return store.path / "parts" / store.parts()[0] / "features" / "clip"


def _errors(path: Path) -> list[tuple[str, str | None]]:
    report = validate(FeatureStore.open(path))
    assert not report.ok
    return [(p.kind, p.trailer) for p in report.problems if p.severity == "error"]


def test_a_healthy_store_reads_and_validates(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert validate(store).problems == []
    for i in range(10):
        np.testing.assert_array_equal(
            store.get(f"t{i}", "clip").values, rows_for(i, 3 + i, 8).values
        )
    store.load_feature("clip")


def test_a_deleted_offsets_chunk(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (_clip(store) / "offsets" / "c" / "0" / "0").unlink()  # zarr reads it as zeros: 0 rows each
    assert ("offsets", None) in _errors(store.path)
    reopened = FeatureStore.open(store.path)
    with pytest.raises(StoreIntegrityError, match=rf"{store.parts()[0]}.*offsets.*'t3'"):
        reopened.get("t3", "clip")
    with pytest.raises(StoreIntegrityError):
        reopened.lengths("clip")
    with pytest.raises(StoreIntegrityError):
        reopened.load_feature("clip")


def test_an_edited_dtype(tmp_path: Path) -> None:
    store = _store(tmp_path)
    meta_path = _clip(store) / "values" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["data_type"] = "int16"  # same item size: the bytes would be read as other numbers
    meta_path.write_text(json.dumps(meta))
    assert ("dtype", None) in _errors(store.path)
    reopened = FeatureStore.open(store.path)
    with pytest.raises(StoreIntegrityError, match=r"int16.*float16.*values/zarr.json"):
        reopened.get("t0", "clip")
    with pytest.raises(StoreIntegrityError):
        reopened.load_feature("clip")


def test_overwritten_finite_values(tmp_path: Path) -> None:
    store = _store(tmp_path)
    chunk = _clip(store) / "values" / "c" / "1" / "0"  # rows 16..31: trailers t3, t4, t5
    chunk.write_bytes(np.full(16 * 8, 0.5, dtype="<f2").tobytes())  # same size, all finite
    errors = _errors(store.path)
    assert {t for kind, t in errors if kind == "checksum"} == {"t3", "t4", "t5"}
    reopened = FeatureStore.open(store.path)
    with pytest.raises(StoreIntegrityError, match=rf"{store.parts()[0]}.*'t4'.*values"):
        reopened.get("t4", "clip")
    np.testing.assert_array_equal(reopened.get("t0", "clip").values, rows_for(0, 3, 8).values)
    with pytest.raises(StoreIntegrityError, match="'t3'"):
        reopened.load_feature("clip")
    with pytest.raises(StoreIntegrityError, match="t3"):  # compaction would launder the damage
        compact(reopened)
    assert FeatureStore.open(store.path).parts() == store.parts()
    with pytest.raises(StoreIntegrityError, match="t3"):  # nor is it exported as data
        export_hdf5(reopened, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_a_deleted_digests_chunk(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (_clip(store) / "digests" / "c" / "0" / "0").unlink()
    assert ("digests", None) in _errors(store.path)
    with pytest.raises(StoreIntegrityError, match="digests"):
        FeatureStore.open(store.path).get("t0", "clip")


def test_a_same_size_tampered_zip_member(tmp_path: Path) -> None:
    store = _store(tmp_path)
    path = write_stored_zip(store.path, tmp_path / "s.zip")
    member = f"parts/{store.parts()[0]}/features/clip/values/c/0/0"
    offset, size = stored_members(path).range(member)  # type: ignore[misc]
    with open(path, "r+b") as handle:  # flip the bytes in place: sizes and names stay valid
        handle.seek(offset)
        data = bytearray(handle.read(size))
        handle.seek(offset)
        handle.write(bytes(b ^ 0x01 for b in data))
    assert ("zip-crc", None) in _errors(path)
    with pytest.raises(StoreIntegrityError, match=r"values/c/0/0.*CRC-32"):
        FeatureStore.open(path).get("t0", "clip")


def test_parts_written_before_digests_still_read(tmp_path: Path) -> None:
    store = _store(tmp_path)
    part = store.path / "parts" / store.parts()[0] / "zarr.json"
    meta = json.loads(part.read_text())
    for counts in meta["attributes"]["commit"]["features"].values():
        counts.pop("offsets_crc32"), counts.pop("digests_crc32")
    part.write_text(json.dumps(meta))
    reopened = FeatureStore.open(store.path)
    assert validate(reopened).problems == []
    np.testing.assert_array_equal(reopened.get("t9", "clip").values, rows_for(9, 12, 8).values)


def test_a_group_where_an_array_belongs_is_named(tmp_path: Path) -> None:
    """zarr 3 hands back a Group for `labels/ids` made a folder by hand; the reader names the node
    instead of failing inside numpy ("'Group' object has no attribute 'shape'")."""
    store = _store(tmp_path)
    store.set_labels(["Drama", "Comedy"], {"t0": ["Drama"], "t1": ["Comedy"]})
    ids = store.path / "labels" / "ids"
    for child in ids.iterdir():
        if child.is_dir():
            import shutil

            shutil.rmtree(child)
        else:
            child.unlink()
    (ids / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group"}))
    with pytest.raises(StoreFormatError, match=r"labels/ids is a group where cinefeat expects an "):
        FeatureStore.open(store.path).labels()


def test_an_attribute_of_the_wrong_json_type_is_named(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.set_labels(["Drama"], {"t0": ["Drama"]})
    meta = store.path / "labels" / "zarr.json"
    doc = json.loads(meta.read_text())
    key = next(k for k in doc["attributes"] if "name" in k)
    doc["attributes"][key] = "Drama,Comedy"
    meta.write_text(json.dumps(doc))
    with pytest.raises(StoreFormatError, match=rf"attribute '{key}' of labels is str, not a JSON"):
        FeatureStore.open(store.path).labels()
