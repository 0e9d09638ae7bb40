"""Real OS processes: two writers at once, and a writer killed with SIGKILL mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_testkit import assert_rows_equal, expected_rows

from cinefeat.store import FeatureStore
from cinefeat.store.validate import validate

WORKER = str(Path(__file__).resolve().parent / "store_worker.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _spawn(store: Path, run: str, ids: list[str], *extra: str) -> subprocess.Popen:
    command = [sys.executable, WORKER, "--store", str(store), "--run", run, "--ids", ",".join(ids)]
    return subprocess.Popen([*command, *extra], env=ENV, stderr=subprocess.PIPE, text=True)


def _wait(process: subprocess.Popen, timeout: float = 120) -> None:
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err


def _assert_complete(store_path: Path, ids: list[str]) -> None:
    store = FeatureStore.open(store_path)
    assert store.ids() == sorted(ids)
    report = validate(store)
    assert report.ok, [str(p) for p in report.problems]
    assert not [p for p in report.problems if p.kind == "duplicate"]
    values, _, offsets = store.load_feature("clip")
    assert sorted(offsets) == sorted(ids)
    for tid in ids:
        assert_rows_equal(store.get(tid, "clip"), expected_rows(tid))
        start, stop = offsets[tid]
        assert (values[start:stop] == expected_rows(tid).values).all()


def test_two_processes_write_one_store_at_once(tmp_path: Path) -> None:
    store = tmp_path / "s"
    FeatureStore.create(store)
    barrier = tmp_path / "go"
    first = [f"p1-{i:03d}" for i in range(40)]
    second = [f"p2-{i:03d}" for i in range(40)]
    a = _spawn(store, "run", first, "--barrier", str(barrier), "--commit-every", "2")
    b = _spawn(store, "run", second, "--barrier", str(barrier), "--commit-every", "3")
    barrier.write_text("go")
    _wait(a)
    _wait(b)
    assert len(FeatureStore.open(store).parts()) == 2
    _assert_complete(store, first + second)


@pytest.mark.parametrize("point", ["rows", "index"])
def test_sigkill_mid_batch_then_rerun_completes(tmp_path: Path, point: str) -> None:
    store = tmp_path / "s"
    ids = [f"t{i:02d}" for i in range(20)]
    marker = tmp_path / "frozen"
    victim = _spawn(
        store,
        "first",
        ids,
        "--commit-every",
        "4",
        "--hang-at-batch",
        "3",
        "--hang-point",
        point,
        "--marker",
        str(marker),
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert victim.poll() is None, victim.stderr.read() if victim.stderr else ""
        assert time.monotonic() < deadline, "the writer never reached the kill point"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    survivor = FeatureStore.open(store)
    assert survivor.ids() == ids[:8]  # two committed batches of 4; the third is invisible
    assert survivor.committed("clip") == set(ids[:8])
    assert validate(survivor).ok
    _wait(_spawn(store, "rerun", ids))
    _assert_complete(store, ids)
