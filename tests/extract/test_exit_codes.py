"""`cinefeat extract` exit codes: all ok, some failed, nothing usable; and `--labels` merging."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.extract.summary import (
    EXIT_ERROR,
    EXIT_NOTHING_USABLE,
    EXIT_OK,
    EXIT_SOME_FAILED,
    Summary,
)
from cinefeat.store import FeatureStore


def extract(root: Path, store: Path, *extra: str, quiet: bool = True) -> tuple[int, str]:
    """Exit code and output (stdout and stderr: warnings show unless `quiet`)."""
    args = ["--quiet"] * quiet + ["extract", str(root), "--store", str(store)]
    args += ["--features", "colorhist"]
    result = CliRunner().invoke(main, [*args, *extra], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def two_good(tmp_path: Path, cuts_video_maker) -> Path:
    root = tmp_path / "d"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red", "blue"], audio=False)
    (root / "b.mp4").write_bytes((root / "a.mp4").read_bytes())
    return root


def test_codes_follow_what_the_run_produced(two_good: Path, tmp_path: Path) -> None:
    store = tmp_path / "s"
    code, out = extract(two_good, store)
    assert code == EXIT_OK == 0, out
    assert "exit code 0: all ok" in out
    (two_good / "broken.mp4").write_text("not a video\n")
    code, out = extract(two_good, store, "--json")
    assert code == EXIT_SOME_FAILED == 3  # one failed; a and b are ok from the first run
    summary = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert (summary["ok"], summary["failed"], summary["skipped"], summary["exit_code"]) == (
        0,
        1,
        2,
        3,
    )
    empty = tmp_path / "only broken"
    empty.mkdir()
    (empty / "broken.mp4").write_text("not a video\n")
    (empty / "zero.mkv").write_bytes(b"")
    code, out = extract(empty, tmp_path / "s2")
    assert code == EXIT_NOTHING_USABLE == 4
    assert "exit code 4: nothing usable: every trailer failed" in out
    code, out = extract(empty, tmp_path / "s2")  # failed before, skipped now: nothing new failed
    assert code == EXIT_OK


def test_summary_exit_code_table() -> None:
    assert Summary().exit_code == EXIT_OK  # nothing to do
    assert Summary(skipped=3).exit_code == EXIT_OK
    assert Summary(ok=1, failed=1).exit_code == EXIT_SOME_FAILED
    assert Summary(skipped=1, failed=1).exit_code == EXIT_SOME_FAILED
    assert Summary(failed=2).exit_code == EXIT_NOTHING_USABLE


def test_a_bad_labels_file_stops_the_run_before_any_trailer(two_good: Path, tmp_path: Path):
    labels = tmp_path / "labels.csv"
    labels.write_text('id,genres\na,"Drama\nb,Comedy\n')
    code, out = extract(two_good, tmp_path / "s", "--labels", str(labels))
    assert code == EXIT_ERROR
    assert f"{labels}:2: a quote in the row starting on this line never closes" in out
    assert not (tmp_path / "s").exists()


def names_of(store: Path) -> dict[str, list[str]]:
    names, vectors = FeatureStore.open(store).labels()
    return {tid: [names[i] for i in np.flatnonzero(v)] for tid, v in vectors.items()}


def test_per_shard_labels_files_merge_and_a_conflict_names_both(
    two_good: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s"
    shard0, shard1 = tmp_path / "shard0.csv", tmp_path / "shard1.jsonl"
    shard0.write_text("id,genres\na.mp4,Drama|Horror\nelsewhere/x,Comedy\n")
    shard1.write_text('{"id": "b", "genres": []}\n')
    code, out = extract(two_good, store, "--labels", str(shard0), "--shard", "0/2", quiet=False)
    assert code == EXIT_OK, out
    assert "1 of 2 labelled ids match no video under the dataset directory" in out
    assert "'elsewhere/x' (line 3)" in out
    code, out = extract(two_good, store, "--labels", str(shard1), "--shard", "1/2")
    assert code == EXIT_OK, out
    assert names_of(store) == {"a": ["Drama", "Horror"], "b": [], "elsewhere/x": ["Comedy"]}

    clash = tmp_path / "fix.csv"
    clash.write_text("id,genres\nb,Western\n")
    code, out = extract(two_good, store, "--labels", str(clash))
    assert code == EXIT_ERROR
    assert "'b': [] from shard1.jsonl:1, ['Western'] from fix.csv:2" in out
    assert "--replace-labels" in out
    assert names_of(store)["b"] == []  # nothing written
    code, out = extract(two_good, store, "--labels", str(clash), "--replace-labels")
    assert code == EXIT_OK, out
    assert names_of(store) == {"b": ["Western"]}
