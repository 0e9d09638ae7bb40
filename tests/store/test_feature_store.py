"""The store API of docs/contracts.md: create/open, writer commits, readers, labels, splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from store_testkit import PROVENANCE, assert_rows_equal, rows_for, write_trailers

from cinefeat.store import (
    FeatureDeclarationError,
    FeatureRows,
    FeatureStore,
    LabelError,
    NotAStoreError,
    RowsError,
    TrailerRecord,
)


def test_round_trip_through_one_writer(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    written = write_trailers(store, ["b", "a/x", "c"], commit_every=2)
    reopened = FeatureStore.open(tmp_path / "s")
    assert reopened.ids() == ["a/x", "b", "c"]
    assert reopened.features() == ["clip", "ocr"]
    for tid, feats in written.items():
        got = reopened[tid]
        assert set(got) == {"clip", "ocr"}
        for name, rows in feats.items():
            assert_rows_equal(got[name], rows)
            assert reopened.has(tid, name)
        assert reopened.texts(tid, "ocr") == feats["ocr"].texts
        assert reopened.texts(tid, "clip") == []
    assert reopened.record("c").duration_s == 3.0
    assert reopened.lengths("clip") == {t: len(f["clip"]) for t, f in written.items()}


def test_load_feature_offsets_slice_each_trailer(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    first = write_trailers(store, ["a", "b"], run="one")
    second = write_trailers(store, ["c", "d"], run="two")
    values, spans, offsets = store.load_feature("clip")
    assert set(offsets) == {"a", "b", "c", "d"}
    for tid, feats in {**first, **second}.items():
        start, stop = offsets[tid]
        np.testing.assert_array_equal(values[start:stop], feats["clip"].values)
        np.testing.assert_array_equal(spans[start:stop], feats["clip"].spans)


def test_zero_rows_are_committed_and_distinct_from_missing(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="r") as writer:
        writer.declare_feature("ocr", provenance=PROVENANCE, dim=4)
        writer.add(TrailerRecord(id="empty"), {"ocr": FeatureRows(np.zeros((0, 4)), [])})
        writer.add(TrailerRecord(id="nothing", feature_status={"ocr": "missing: no text"}))
    assert store.has("empty", "ocr")
    assert not store.has("nothing", "ocr")
    assert store.committed("ocr") == {"empty"}
    assert store.get("empty", "ocr").values.shape == (0, 4)
    assert store["nothing"] == {}
    with pytest.raises(KeyError, match="no committed 'ocr' rows"):
        store.get("nothing", "ocr")


def test_uncommitted_batch_is_invisible_until_commit(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    writer = store.writer(run="r")
    writer.declare_feature("clip", provenance=PROVENANCE, dim=3)
    writer.add(TrailerRecord(id="a"), {"clip": rows_for(1, 2, 3)})
    other = FeatureStore.open(tmp_path / "s")
    assert other.ids() == []
    assert writer.commit() == 1
    other.refresh()
    assert other.ids() == ["a"]
    writer.add(TrailerRecord(id="b"), {"clip": rows_for(2, 5, 3)})
    other.refresh()
    assert other.ids() == ["a"]
    writer.close()
    other.refresh()
    assert other.ids() == ["a", "b"]


def test_status_filter_and_last_record_wins(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="first") as writer:
        writer.add(TrailerRecord(id="a", status="failed", stage="decode", error="bad header"))
        writer.add(TrailerRecord(id="b"))
    assert store.ids(status="failed") == ["a"]
    with store.writer(run="retry") as writer:
        writer.add(TrailerRecord(id="a", status="ok", timings={"decode": 1.5}))
    assert store.ids(status="failed") == []
    assert store.ids(status="ok") == ["a", "b"]
    assert store.record("a").timings == {"decode": 1.5}


def test_adding_a_feature_later_keeps_the_others(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    written = write_trailers(store, ["a", "b"], dims={"clip": 8})
    clip_dir = next((tmp_path / "s" / "parts").iterdir()) / "features" / "clip"
    before = {p: p.stat().st_mtime_ns for p in clip_dir.rglob("*") if p.is_file()}
    later = write_trailers(store, ["a", "b"], run="later", dims={"audio": 5})
    after = {p: p.stat().st_mtime_ns for p in clip_dir.rglob("*") if p.is_file()}
    assert before == after
    assert set(store["a"]) == {"clip", "audio"}
    assert_rows_equal(store.get("a", "clip"), written["a"]["clip"])
    assert_rows_equal(store.get("b", "audio"), later["b"]["audio"])


def test_provenance_is_completed_and_conflicts_refused(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, ["a"], dims={"clip": 8})
    prov = store.provenance("clip")
    assert prov["dim"] == 8 and prov["dtype"] == "float16" and prov["model"] == "random"
    assert len(prov["config_hash"]) == 64 and prov["cinefeat_version"]
    with store.writer(run="other") as writer, pytest.raises(FeatureDeclarationError, match="new"):
        writer.declare_feature("clip", provenance={**PROVENANCE, "layer": "pre-logits"}, dim=8)


def test_writer_refuses_bad_rows_with_a_fix(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="r") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=4)
        with pytest.raises(RowsError, match="declared with dim 4"):
            writer.add(TrailerRecord(id="a"), {"clip": rows_for(0, 2, 5)})
        with pytest.raises(FeatureDeclarationError, match="declare_feature"):
            writer.add(TrailerRecord(id="a"), {"audio": rows_for(0, 2, 4)})
        writer.add(TrailerRecord(id="a"), {"clip": rows_for(0, 2, 4)})
        with pytest.raises(RowsError, match="already added"):
            writer.add(TrailerRecord(id="a"), {"clip": rows_for(0, 2, 4)})
    assert store.ids() == ["a"]


def test_float32_feature_keeps_full_precision(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    values = np.array([[1.0 + 1e-6, -2.5]], dtype=np.float32)
    with store.writer(run="r") as writer:
        writer.declare_feature("f32", provenance=PROVENANCE, dim=2, dtype="float32")
        writer.add(TrailerRecord(id="a"), {"f32": FeatureRows(values, [[0.0, 1.0]])})
    np.testing.assert_array_equal(store.get("a", "f32").values, values)


def test_create_refuses_a_foreign_folder_and_open_a_missing_store(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    with pytest.raises(NotAStoreError, match="choose a new path"):
        FeatureStore.create(tmp_path / "busy")
    with pytest.raises(NotAStoreError, match=r"FeatureStore\.create"):
        FeatureStore.open(tmp_path / "nowhere")
    store = FeatureStore.open_or_create(tmp_path / "fresh")
    assert store.ids() == [] and store.features() == []


def test_labels_and_splits(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    assert store.labels() == ([], {})
    store.set_labels(["Drama", "Comedy", "Horror"], {"a": ["Drama", "Horror"], "b": []})
    names, labels = FeatureStore.open(tmp_path / "s").labels()
    assert names == ["Drama", "Comedy", "Horror"]
    np.testing.assert_array_equal(labels["a"], [1, 0, 1])
    np.testing.assert_array_equal(labels["b"], [0, 0, 0])
    with pytest.raises(LabelError, match="Dramma"):
        store.set_labels(["Drama"], {"a": ["Dramma"]})
    store.set_split("sorted", {"train": ["b", "a"], "val": [], "test": ["c"]})
    assert store.splits() == {"sorted": {"train": ["a", "b"], "val": [], "test": ["c"]}}
    with pytest.raises(LabelError, match="both"):
        store.set_split("bad", {"train": ["a"], "test": ["a"]})


def test_part_names_carry_run_and_worker_and_never_collide(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="r1", worker="gpu0") as one, store.writer(run="r1", worker="gpu0") as two:
        assert one.name != two.name
        assert one.name.startswith("r1-gpu0-")
    with pytest.raises(ValueError, match="not allowed"):
        store.writer(run="a/b")
    info = json.loads((tmp_path / "s" / "parts" / one.name / "zarr.json").read_text())
    assert info["attributes"]["part"]["worker"] == "gpu0"


def test_leaving_the_with_block_on_an_error_commits_complete_trailers(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    with pytest.raises(RuntimeError, match="decoder crashed"), store.writer(run="r") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=3)
        writer.add(TrailerRecord(id="done"), {"clip": rows_for(0, 2, 3)})
        raise RuntimeError("decoder crashed")
    assert FeatureStore.open(tmp_path / "s").ids() == ["done"]


def test_open_or_create_twice_gives_one_store(tmp_path: Path) -> None:
    first = FeatureStore.open_or_create(tmp_path / "s")
    write_trailers(first, ["a"])
    second = FeatureStore.create(tmp_path / "s")  # an existing store is opened, not replaced
    assert second.ids() == ["a"]
