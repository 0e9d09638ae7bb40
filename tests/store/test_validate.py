"""validate: each kind of damage is found, named by trailer, and fails the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner
from store_testkit import PROVENANCE, rows_for, write_trailers

from cinefeat.cli.main import main
from cinefeat.store import FeatureRows, FeatureStore, StoreError, TrailerRecord
from cinefeat.store.validate import validate


def _store(tmp_path: Path) -> FeatureStore:
    """Trailers t0..t9 with clip (dim 8, 16-row chunks) rows 3..12 each, committed in 2 batches."""
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="r") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=8, row_chunk=16)
        for i in range(10):
            writer.add(TrailerRecord(id=f"t{i}"), {"clip": rows_for(i, 3 + i, 8)})
            if i == 4:
                writer.commit()
    return store


def _clip_dir(store: FeatureStore) -> Path:
    return store.path / "parts" / store.parts()[0] / "features" / "clip"


def _kinds(store: FeatureStore) -> set[tuple[str, str | None]]:
    return {(p.kind, p.trailer) for p in validate(FeatureStore.open(store.path)).problems}


def test_a_healthy_store_passes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    report = validate(store)
    assert report.ok and report.problems == []
    assert report.trailers == 10 and report.rows == {"clip": sum(3 + i for i in range(10))}


def test_nan_and_inf_rows_are_named(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.writer(run="bad") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=8, row_chunk=16)
        values = np.ones((3, 8), dtype=np.float16)
        values[1, 2] = np.nan
        writer.add(TrailerRecord(id="nan"), {"clip": FeatureRows(values, [[0, 1]] * 3)})
        values = np.ones((2, 8), dtype=np.float32)
        values[0, 0] = 1e6  # overflows float16 -> inf
        writer.add(TrailerRecord(id="inf"), {"clip": FeatureRows(values, [[0, 1]] * 2)})
    kinds = _kinds(store)
    assert ("nan", "nan") in kinds and ("inf", "inf") in kinds
    assert not validate(store).ok


def test_truncated_chunk_is_reported_with_its_trailers(tmp_path: Path) -> None:
    store = _store(tmp_path)
    chunk = _clip_dir(store) / "values" / "c" / "1" / "0"  # rows 16..31
    chunk.write_bytes(chunk.read_bytes()[:100])
    problems = validate(FeatureStore.open(store.path)).problems
    hit = {p.trailer for p in problems if p.kind == "unreadable-chunk"}
    # rows per trailer 3, 4, 5, ...: t3 = rows 12..17, t4 = 18..24, t5 = 25..32
    assert hit == {"t3", "t4", "t5"}


def test_missing_chunk_is_reported(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (_clip_dir(store) / "values" / "c" / "0" / "0").unlink()  # rows 0..15: t0, t1, t2, t3
    kinds = _kinds(store)
    assert {t for k, t in kinds if k == "missing-chunk"} == {"t0", "t1", "t2", "t3"}


def test_offsets_beyond_rows_are_reported(tmp_path: Path) -> None:
    store = _store(tmp_path)
    offsets = zarr.open_array(_clip_dir(store) / "offsets", mode="r+")
    offsets[9] = [100, 400]
    kinds = _kinds(store)
    assert ("offsets", "t9") in kinds


def test_duplicates_across_parts_are_reported(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.writer(run="again") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=8, row_chunk=16)
        writer.add(TrailerRecord(id="t2"), {"clip": rows_for(99, 2, 8)})
    kinds = _kinds(store)
    assert ("duplicate", "t2") in kinds
    np.testing.assert_array_equal(store.get("t2", "clip").values, rows_for(99, 2, 8).values)


def test_dims_that_disagree_with_provenance_are_reported(tmp_path: Path) -> None:
    store = _store(tmp_path)
    meta_path = _clip_dir(store) / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["provenance"]["dim"] = 16
    meta_path.write_text(json.dumps(meta))
    report = validate(FeatureStore.open(store.path))
    # the edited provenance no longer matches its recorded hash either
    assert [p.kind for p in report.problems] == ["dim", "provenance-hash"]


def test_cli_exits_non_zero_and_names_the_trailer(tmp_path: Path) -> None:
    store = _store(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(main, ["store", "validate", str(store.path)])
    assert ok.exit_code == 0 and "OK: 10 trailers" in ok.output
    chunk = _clip_dir(store) / "values" / "c" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:10])
    bad = runner.invoke(main, ["store", "validate", str(store.path)])
    assert bad.exit_code == 1
    assert "trailer 't0'" in bad.output and "FAILED" in bad.output
    as_json = runner.invoke(main, ["store", "validate", "--json", str(store.path)])
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and report["ok"] is False
    assert {p["trailer"] for p in report["problems"]} >= {"t0", "t1"}


@pytest.mark.parametrize("fast", [True, False])
def test_fast_mode_still_finds_missing_chunks(tmp_path: Path, fast: bool) -> None:
    store = _store(tmp_path)
    write_trailers(store, ["x"], run="more")
    (_clip_dir(store) / "values" / "c" / "2" / "0").unlink()
    report = validate(FeatureStore.open(store.path), check_values=not fast)
    assert any(p.kind == "missing-chunk" for p in report.problems)


def test_reading_a_truncated_chunk_raises_and_names_the_fix(tmp_path: Path) -> None:
    store = _store(tmp_path)
    chunk = _clip_dir(store) / "values" / "c" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:100])
    reader = FeatureStore.open(store.path)
    with pytest.raises(StoreError, match="store validate"):
        reader.get("t1", "clip")
    assert reader.get("t9", "clip").values.shape == (12, 8)  # other chunks still read
