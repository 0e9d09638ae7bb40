"""Compaction beside a live writer (real processes): compact, or SIGKILL either, at every moment
of a writer's life; no committed trailer is lost or duplicated.

The writer is `lease_worker.py`, stepped through its life with marker files; the compaction runs
in this process, or (to SIGKILL it) in a child running `compact_worker.py`.
"""

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
from cinefeat.store.compact import compact
from cinefeat.store.validate import validate

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
IDS = [f"t{i:02d}" for i in range(8)]
STAGES = ["created", "committed-1", "mid-2", "inside-2", "closed"]


RUNNING: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_leftover_processes():  # type: ignore[no-untyped-def]
    """A failed test leaves a paused writer or a frozen compaction behind: kill them."""
    yield
    while RUNNING:
        process = RUNNING.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


class Writer:
    """A `lease_worker.py` process and its stage markers."""

    def __init__(
        self, store: Path, steps: Path, run: str, pause: list[str], ids: list[str] = IDS
    ) -> None:
        steps.mkdir(exist_ok=True)
        self.steps = steps
        command = [
            sys.executable,
            str(HERE / "lease_worker.py"),
            "--store",
            str(store),
            "--run",
            run,
            "--ids",
            ",".join(ids),
            "--steps",
            str(steps),
            "--pause",
            ",".join(pause),
        ]
        self.process = subprocess.Popen(command, env=ENV, stderr=subprocess.PIPE, text=True)
        RUNNING.append(self.process)

    def reach(self, stage: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not (self.steps / stage).exists():
            if self.process.poll() is not None:
                raise AssertionError(f"writer exited before {stage}: {self.process.stderr.read()}")
            assert time.monotonic() < deadline, f"the writer never reached {stage}"
            time.sleep(0.02)

    def go(self, stage: str) -> None:
        (self.steps / f"{stage}.go").write_text("go")

    def finish(self) -> None:
        _, err = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, err

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def _assert_complete(path: Path) -> None:
    """Every id exactly once (one record, one clip entry across live parts), rows intact."""
    store = FeatureStore.open(path)
    assert store.ids() == IDS
    report = validate(store)
    assert report.ok, [str(p) for p in report.problems]
    assert not [p for p in report.problems if p.kind in ("duplicate", "unreachable")]
    for tid in IDS:
        assert_rows_equal(store.get(tid, "clip"), expected_rows(tid))
    entries = [t for p in store.index.parts if "clip" in p.features for t in p.features["clip"].ids]
    assert sorted(entries) == IDS  # no trailer stored twice


def _final_compaction(path: Path) -> None:
    result = compact(FeatureStore.open(path))
    assert not result.skipped
    parts = FeatureStore.open(path).parts()
    assert len(parts) == 1 and parts[0].startswith("compact-")
    assert sorted(p.name for p in (path / "parts").iterdir() if p.is_dir()) == parts  # no debris
    _assert_complete(path)


@pytest.mark.parametrize("stage", STAGES)
def test_compact_beside_a_live_writer_loses_nothing(tmp_path: Path, stage: str) -> None:
    path = tmp_path / "s"
    FeatureStore.create(path)
    writer = Writer(path, tmp_path / "steps", "live", pause=[stage])
    writer.reach(stage)
    seen = FeatureStore.open(path).ids()
    parts = FeatureStore.open(path).parts()
    result = compact(FeatureStore.open(path))
    assert FeatureStore.open(path).ids() == seen  # what readers saw is still there
    writer.go(stage)
    writer.finish()
    _assert_complete(path)
    if stage != "closed":  # the writer was alive and held its part: left alone
        assert list(result.skipped) == parts
        assert "writer is alive" in next(iter(result.skipped.values()))
    _final_compaction(path)


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_writer_then_compact_and_resume(tmp_path: Path, stage: str) -> None:
    path = tmp_path / "s"
    FeatureStore.create(path)
    writer = Writer(path, tmp_path / "steps", "first", pause=[stage])
    writer.reach(stage)
    committed = FeatureStore.open(path).ids()
    writer.kill()
    report = validate(FeatureStore.open(path))
    if stage != "closed":
        assert [p.kind for p in report.problems] == ["stale"], report.problems
    result = compact(FeatureStore.open(path))
    assert not result.skipped  # the lock died with the writer: its part is merged
    assert FeatureStore.open(path).ids() == committed
    assert validate(FeatureStore.open(path)).problems == []  # lease gone with the part
    Writer(path, tmp_path / "steps2", "resume", pause=[]).finish()
    _assert_complete(path)
    _final_compaction(path)


@pytest.mark.parametrize("point", ["copy", "switch"])
def test_sigkill_compaction_beside_a_live_writer(tmp_path: Path, point: str) -> None:
    path = tmp_path / "s"
    FeatureStore.create(path)
    Writer(path, tmp_path / "steps0", "done", pause=[], ids=IDS[:3]).finish()
    writer = Writer(path, tmp_path / "steps", "live", pause=["inside-2"])  # writes IDS[3:]
    writer.reach("inside-2")
    marker = tmp_path / "frozen"
    command = [sys.executable, str(HERE / "compact_worker.py"), "--store", str(path)]
    compaction = subprocess.Popen(
        [*command, "--freeze", point, "--marker", str(marker)], env=ENV, stderr=subprocess.PIPE
    )
    RUNNING.append(compaction)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert compaction.poll() is None, compaction.stderr.read() if compaction.stderr else ""
        assert time.monotonic() < deadline, "the compaction never reached its freeze point"
        time.sleep(0.02)
    compaction.send_signal(signal.SIGKILL)
    compaction.wait(timeout=30)
    assert FeatureStore.open(path).ids() == IDS[:5]  # 3 closed + the live writer's first batch
    writer.go("inside-2")
    writer.finish()
    _assert_complete(path)
    _final_compaction(path)
