"""A writer compacted away, unreachable trailers, consolidated metadata, damaged part metadata.

The writer-side defences are exercised in-process by making compaction believe a live part is
stale (what happens when a writer on another machine freezes past its lease: no lock is visible
and the heartbeat expired).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zarr
from click.testing import CliRunner
from store_testkit import PROVENANCE, expected_rows, write_trailers

import cinefeat.store.compact as compact_module
from cinefeat.cli.main import main
from cinefeat.store import FeatureStore, StoreError, TrailerRecord
from cinefeat.store.compact import compact
from cinefeat.store.lease import LeaseState
from cinefeat.store.validate import validate

HERE = Path(__file__).resolve().parent


def _add(writer, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    for tid in ids:
        writer.add(TrailerRecord(id=tid), {"clip": expected_rows(tid)})


def _writer(store: FeatureStore, run: str = "live"):  # type: ignore[no-untyped-def]
    writer = store.writer(run=run)
    writer.declare_feature("clip", provenance=PROVENANCE, dim=6)
    return writer


def _entries(path: Path) -> list[str]:
    store = FeatureStore.open(path)
    return sorted(t for p in store.index.parts for t in p.features.get("clip", []).ids)


@pytest.fixture
def lease_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compaction sees every part as stale (a frozen writer on another machine)."""
    monkeypatch.setattr(
        compact_module, "lease_state", lambda *a, **k: LeaseState("stale", "simulated expiry")
    )


def test_writer_compacted_away_writes_a_new_part(tmp_path: Path, lease_expired: None) -> None:
    store = FeatureStore.create(tmp_path / "s")
    writer = _writer(store)
    _add(writer, ["a", "b"])
    writer.commit()
    old = writer.name
    result = compact(FeatureStore.open(store.path))
    assert result.replaced == [old]
    assert (store.path / "parts" / old).exists()  # its writer still holds the lock: not deleted
    _add(writer, ["c", "d"])
    writer.commit()
    assert writer.name != old  # noticed before committing
    writer.close()
    assert FeatureStore.open(store.path).ids() == ["a", "b", "c", "d"]
    assert _entries(store.path) == ["a", "b", "c", "d"]
    kinds = [p.kind for p in validate(FeatureStore.open(store.path)).problems]
    assert kinds == ["leftover"]
    compact(FeatureStore.open(store.path))
    assert not (store.path / "parts" / old).exists()
    assert _entries(store.path) == ["a", "b", "c", "d"]


def test_compaction_during_a_commit_is_noticed_after_it(
    tmp_path: Path, lease_expired: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FeatureStore.create(tmp_path / "s")
    writer = _writer(store)
    _add(writer, ["a"])
    writer.commit()
    old = writer.name
    real = type(writer)._write_trailer_index
    fired = {"n": 0}

    def compact_meanwhile(self, when):  # type: ignore[no-untyped-def]
        real(self, when)
        if fired["n"] == 0:  # between the index and the commit point: the copy misses "b"
            fired["n"] += 1
            compact(FeatureStore.open(store.path))

    monkeypatch.setattr(type(writer), "_write_trailer_index", compact_meanwhile)
    _add(writer, ["b"])
    writer.commit()
    assert writer.name != old  # the batch went again into a new part
    writer.close()
    assert FeatureStore.open(store.path).ids() == ["a", "b"]
    assert validate(FeatureStore.open(store.path)).ok
    compact(FeatureStore.open(store.path))
    assert _entries(store.path) == ["a", "b"]


def test_unreachable_trailers_fail_validate_and_compact_brings_them_back(
    tmp_path: Path, lease_expired: None
) -> None:
    """The issue's loss: a writer commits into a part a compaction has already replaced."""
    store = FeatureStore.create(tmp_path / "s")
    writer = _writer(store)
    _add(writer, ["a", "b"])
    writer.commit()
    compact(FeatureStore.open(store.path))
    writer._replaced = lambda: False  # what a writer from before leases did
    _add(writer, ["c", "d", "e"])
    writer.commit()
    writer.close()
    assert FeatureStore.open(store.path).ids() == ["a", "b"]  # c, d, e unreachable
    report = validate(FeatureStore.open(store.path))
    assert not report.ok
    (problem,) = [p for p in report.problems if p.kind == "unreachable"]
    assert "3 trailer(s)" in problem.message and problem.part == writer.name
    bad = CliRunner().invoke(main, ["store", "validate", str(store.path)])
    assert bad.exit_code == 1 and "FAILED" in bad.output
    compact(FeatureStore.open(store.path))  # puts the part back, then merges it
    assert FeatureStore.open(store.path).ids() == ["a", "b", "c", "d", "e"]
    compact(FeatureStore.open(store.path), force=True)
    assert _entries(store.path) == ["a", "b", "c", "d", "e"]
    assert validate(FeatureStore.open(store.path)).problems == []


def test_open_writer_is_reported_and_left_alone(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, ["x"], run="done", dims={"other": 4})
    writer = _writer(FeatureStore.open(store.path))
    _add(writer, ["a"])
    writer.commit()
    report = validate(FeatureStore.open(store.path))
    assert report.ok and [(p.kind, p.part) for p in report.problems] == [("open", writer.name)]
    result = compact(FeatureStore.open(store.path))
    assert list(result.skipped) == [writer.name]
    cli = CliRunner().invoke(main, ["store", "compact", str(store.path)])
    assert cli.exit_code == 0 and f"skipped open part {writer.name}" in cli.output
    writer.close()
    assert not (store.path / "parts" / writer.name / "lease").exists()
    assert validate(FeatureStore.open(store.path)).problems == []


def test_stale_lease_of_a_foreign_host_expires(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    writer = _writer(store)
    _add(writer, ["a"])
    writer.commit()
    writer.lease._stop.set()  # heartbeat stops, as if the process froze
    writer.lease.lock.release()  # and its lock is not visible (another machine)
    lease_file = store.path / "parts" / writer.name / "lease" / "zarr.json"
    meta = json.loads(lease_file.read_text())
    meta["attributes"]["lease"].update(host="elsewhere", heartbeat=time.time() - 5.0)
    lease_file.write_text(json.dumps(meta))
    # 5 s old, stale after 30 s: still open
    assert list(compact(FeatureStore.open(store.path)).skipped) == [writer.name]
    meta["attributes"]["lease"]["heartbeat"] = time.time() - 31.0
    lease_file.write_text(json.dumps(meta))
    kinds = [p.kind for p in validate(FeatureStore.open(store.path)).problems]
    assert kinds == ["stale"]
    result = compact(FeatureStore.open(store.path))
    assert result.replaced == [writer.name] and not result.skipped
    assert FeatureStore.open(store.path).ids() == ["a"]


# -- consolidated metadata --------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part")
def test_consolidated_metadata_hides_nothing(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, ["a", "b"], run="one")
    zarr.consolidate_metadata(str(store.path))  # what cloud users are told to do
    write_trailers(store, ["c"], run="two", dims={"audio": 3})  # new part, new feature
    reader = FeatureStore.open(store.path, read_only=True)
    assert reader.ids() == ["a", "b", "c"] and reader.features() == ["audio", "clip", "ocr"]
    # a plain zarr reader trusting the snapshot sees one part only: that is what is flagged
    stale = zarr.open_group(str(store.path), mode="r")
    assert len(list(stale["parts"].group_keys())) == 1
    report = validate(reader)
    (problem,) = report.problems
    assert problem.kind == "consolidated-metadata" and problem.severity == "warning"
    assert "zarr.json" in problem.message and "stale" in problem.message
    compact(FeatureStore.open(store.path))
    assert FeatureStore.open(store.path).ids() == ["a", "b", "c"]
    assert len(FeatureStore.open(store.path).parts()) == 1


# -- damaged part metadata ----------------------------------------------------------------------


def _two_parts(tmp_path: Path) -> tuple[FeatureStore, str]:
    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, ["a", "b"], run="one")
    write_trailers(store, ["c"], run="two")
    return store, sorted(store.parts())[1]


def test_half_written_part_metadata_is_named(tmp_path: Path) -> None:
    store, part = _two_parts(tmp_path)
    meta = store.path / "parts" / part / "zarr.json"
    meta.write_bytes(meta.read_bytes()[:40])
    report = validate(FeatureStore.open(store.path))
    assert not report.ok
    assert any(f"parts/{part}/zarr.json cannot be read" in p.message for p in report.problems)
    cli = CliRunner().invoke(main, ["store", "validate", str(store.path)])
    assert cli.exit_code == 1 and "FAILED" in cli.output and f"parts/{part}/zarr.json" in cli.output
    with pytest.raises(StoreError, match=f"parts/{part}/zarr.json cannot be read"):
        FeatureStore.open(store.path).ids()


def test_half_written_root_metadata_is_a_clear_error(tmp_path: Path) -> None:
    store, _ = _two_parts(tmp_path)
    meta = store.path / "zarr.json"
    meta.write_bytes(meta.read_bytes()[:30])
    cli = CliRunner().invoke(main, ["store", "validate", str(store.path)])
    assert cli.exit_code == 1 and isinstance(cli.exception, SystemExit)  # no traceback
    assert f"{meta} cannot be read" in cli.output


def test_missing_part_metadata_is_not_ok(tmp_path: Path) -> None:
    store, part = _two_parts(tmp_path)
    (store.path / "parts" / part / "zarr.json").unlink()
    report = validate(FeatureStore.open(store.path))
    assert not report.ok
    assert [(p.kind, p.part) for p in report.problems] == [("orphaned", part)]
    cli = CliRunner().invoke(main, ["store", "validate", str(store.path)])
    assert cli.exit_code == 1 and "OK:" not in cli.output
    with pytest.raises(StoreError, match=r"zarr\.json is missing"):
        FeatureStore.open(store.path).ids()


def test_folder_of_a_writer_killed_while_creating_is_only_a_warning(tmp_path: Path) -> None:
    store, _ = _two_parts(tmp_path)
    folder = store.path / "parts" / "dead-w-1-00000000"
    folder.mkdir()
    assert FeatureStore.open(store.path).ids() == ["a", "b", "c"]
    report = validate(FeatureStore.open(store.path))
    assert report.ok and [p.kind for p in report.problems] == ["orphaned"]
    # young: may be a writer between its mkdir and its lock, left alone
    assert "dead-w-1-00000000" not in compact(FeatureStore.open(store.path)).removed_leftovers
    old = time.time() - 3600
    os.utime(folder, (old, old))
    assert "dead-w-1-00000000" in compact(FeatureStore.open(store.path)).removed_leftovers


# -- commit per trailer -------------------------------------------------------------------------


def test_auto_commit_per_trailer_and_per_interval(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="r", commit_every=1) as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=6)
        _add(writer, ["a"])
        assert writer.pending == 0 and FeatureStore.open(store.path).ids() == ["a"]
    with store.writer(run="r", commit_interval_s=0.0) as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=6)
        _add(writer, ["b"])
        assert writer.pending == 0 and "b" in FeatureStore.open(store.path)
    with store.writer(run="r", commit_interval_s=3600.0) as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=6)
        _add(writer, ["c"])
        assert writer.pending == 1  # not due yet


def test_kill_after_the_first_trailer_commit_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "s"
    FeatureStore.create(path)
    steps = tmp_path / "steps"
    steps.mkdir()
    ids = [f"t{i}" for i in range(4)]
    command = [sys.executable, str(HERE / "lease_worker.py"), "--store", str(path)]
    command += ["--ids", ",".join(ids), "--steps", str(steps), "--commit-every", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    victim = subprocess.Popen([*command, "--run", "first", "--pause", "committed-1"], env=env)
    try:
        deadline = time.monotonic() + 120
        while not (steps / "committed-1").exists():
            assert victim.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    assert FeatureStore.open(path).ids() == ["t0"]
    first = FeatureStore.open(path).parts()
    shutil.rmtree(steps)
    steps.mkdir()
    subprocess.run([*command, "--run", "resume"], env=env, check=True, timeout=120)
    store = FeatureStore.open(path)
    assert store.ids() == ids
    resumed = [p for p in store.index.parts if p.name not in first]
    assert [p.ids for p in resumed] == [ids[1:]]  # t0 was not redone
