"""Two files that map to one id fail that id only, through `cinefeat extract`, and say why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.extract.summary import EXIT_OK, EXIT_SOME_FAILED
from cinefeat.store import FeatureStore


def extract(root: Path, store: Path) -> tuple[int, dict]:
    args = ["--quiet", "extract", str(root), "--store", str(store), "--features", "colorhist"]
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    out = result.output
    return result.exit_code, json.loads(out[out.index("{") : out.rindex("}") + 1])


def test_colliding_files_fail_naming_each_other_and_the_rest_runs(
    tmp_path: Path, cuts_video_maker
) -> None:
    root = tmp_path / "trailers"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red", "blue"], audio=False)
    cuts_video_maker(root / "a.mkv", ["green"], audio=False)
    cuts_video_maker(root / "b.mp4", ["white", "black"], audio=False)
    store_path = tmp_path / "store"

    code, summary = extract(root, store_path)
    assert code == EXIT_SOME_FAILED == summary["exit_code"]
    assert (summary["trailers"], summary["ok"], summary["failed"]) == (2, 1, 1)
    message = (
        f"{root}/a.mkv and {root}/a.mp4 both map to trailer id 'a' (ids are relative paths "
        "without the extension), so neither was extracted: rename or remove all but one of them, "
        "or leave a container out with --extensions (e.g. without mp4)"
    )
    assert summary["failures"] == [{"id": "a", "stage": "scan", "error": message}]
    store = FeatureStore.open(store_path)
    assert store.ids(status="ok") == ["b"] and len(store.get("b", "colorhist")) == 2
    record = store.record("a")
    assert (record.status, record.stage, record.error) == ("failed", "scan", message)
    assert record.extra["colliding_paths"] == [str(root / "a.mkv"), str(root / "a.mp4")]
    assert not store.has("a", "colorhist")
    parts = len(store.parts())

    # a rerun still reports the collision, without piling up identical records
    code, summary = extract(root, store_path)
    assert (code, summary["failed"], summary["skipped"]) == (EXIT_SOME_FAILED, 1, 1)
    assert len(FeatureStore.open(store_path).parts()) == parts

    # fixed by renaming: the next run extracts both, no --retry-failed needed
    shutil.move(root / "a.mkv", root / "a green.mkv")
    code, summary = extract(root, store_path)
    assert (code, summary["ok"], summary["failed"], summary["skipped"]) == (EXIT_OK, 2, 0, 1)
    store = FeatureStore.open(store_path)
    assert store.ids(status="ok") == ["a", "a green", "b"]
    assert len(store.get("a", "colorhist")) == 2  # a.mp4: red, blue

    # a file added later next to a done one: reported, but the good record is kept
    cuts_video_maker(root / "b.mov", ["red"], audio=False)
    code, summary = extract(root, store_path)
    assert (code, summary["failed"]) == (EXIT_SOME_FAILED, 1)
    assert f"{root}/b.mov and {root}/b.mp4 both map" in summary["failures"][0]["error"]
    assert FeatureStore.open(store_path).record("b").status == "ok"
