"""Partial trailers: a damaged stream fails only its features, and the run, `store info` and the
exit code say so (issue 13: "`ok`, `partial` or `failed`"; exit codes that show partial failure).

The damaged files come from the media corpus (benchmarks/media_corpus.py, generated with ffmpeg
and damaged at the byte level), loaded by path like tests/extract/test_media_corpus.py does.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.extract.summary import EXIT_OK, EXIT_SOME_FAILED
from cinefeat.store import FeatureStore, TrailerRecord
from cinefeat.store.info import format_info, store_info

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "media_corpus.py"


def _corpus() -> Any:
    if "media_corpus" not in sys.modules:
        spec = importlib.util.spec_from_file_location("media_corpus", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["media_corpus"] = module
        spec.loader.exec_module(module)
    return sys.modules["media_corpus"]


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _corpus().build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def damaged(corpus_files, tmp_path) -> Path:
    """A folder with one clean trailer and one whose video lost 10 % (5 of 50 frames refused)."""
    root = tmp_path / "dataset"
    root.mkdir()
    shutil.copy(corpus_files["avi-video-unusable"], root / "damaged.avi")
    shutil.copy(corpus_files["avi-without-index"], root / "clean.avi")
    return root


@pytest.fixture
def choi_cache(tmp_cache, shared_dir) -> Path:
    """The real Choi 2016 music tagger (pinned sha256) in a temporary cache: `musicnet` runs."""
    from cinefeat.extract import pretrained
    from cinefeat.extract.extractors import musicnet

    entry = musicnet.CNN_WEIGHTS
    target = pretrained.entry_dir(entry.name) / entry.main_file.filename
    target.parent.mkdir(parents=True)
    shutil.copy(shared_dir / "weights/choi2016-music-tagger" / target.name, target)
    return tmp_cache


def _extract(
    root: Path, store: Path, *extra: str, features: str = "colorhist"
) -> tuple[int, dict[str, Any]]:
    args = ["--quiet", "extract", str(root), "--store", str(store), "--features", features]
    result = CliRunner().invoke(main, [*args, "--json", *extra], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_a_damaged_stream_makes_the_trailer_partial_and_the_run_exit_3(
    damaged, tmp_path, choi_cache
):
    code, summary = _extract(damaged, tmp_path / "s.zarr", features="colorhist,musicnet")
    assert code == EXIT_SOME_FAILED == summary["exit_code"]
    assert (summary["ok"], summary["partial"], summary["failed"]) == (2, 1, 0)
    [partial] = summary["partial_trailers"]
    assert partial["id"] == "damaged"
    assert partial["features"]["colorhist"].startswith("failed: video stream 0 (mpeg4)")
    assert [i["id"] for i in summary["decode_issues"]] == ["damaged"]
    store = FeatureStore.open(tmp_path / "s.zarr")
    record = store.record("damaged")
    assert (record.status, record.outcome) == ("ok", "partial")
    assert record.failed_features == ["colorhist"]
    assert store.has("damaged", "musicnet") and not store.has("damaged", "colorhist")
    assert store.record("clean").outcome == "ok"
    info = store_info(store)
    assert info["status"] == {"ok": 2, "failed": 0, "partial": 1}
    assert "2 ok, 1 of them partial, 0 failed" in format_info(info)
    result = CliRunner().invoke(main, ["store", "validate", str(tmp_path / "s.zarr")])
    assert result.exit_code == 0, result.output
    assert "OK: 2 trailers (1 ok, 1 partial, 0 failed)" in result.output


def test_a_trailer_whose_every_feature_failed_is_failed(damaged, tmp_path):
    code, summary = _extract(damaged, tmp_path / "s.zarr")
    assert code == EXIT_SOME_FAILED and (summary["ok"], summary["failed"]) == (1, 1)
    record = FeatureStore.open(tmp_path / "s.zarr").record("damaged")
    assert (record.status, record.stage) == ("failed", "decode")
    assert record.error.startswith("colorhist: video stream 0 (mpeg4)")


def test_a_higher_max_loss_keeps_the_features_and_exits_0(damaged, tmp_path):
    code, summary = _extract(damaged, tmp_path / "s.zarr", "--max-loss", "0.2")
    assert code == EXIT_OK and summary["partial"] == 0
    store = FeatureStore.open(tmp_path / "s.zarr")
    assert store.record("damaged").feature_status == {"colorhist": "ok"}
    assert store.has("damaged", "colorhist")
    # what decoding lost is still reported, though nothing failed
    assert summary["decode_issues"][0]["messages"][0].endswith("video features kept")


def test_outcome_of_records():
    assert TrailerRecord("a").outcome == "ok"
    assert TrailerRecord("a", status="failed", stage="decode", error="x").outcome == "failed"
    partial = TrailerRecord("a", feature_status={"clip": "ok", "vggish": "failed: audio ..."})
    assert partial.outcome == "partial" and partial.failed_features == ["vggish"]
    assert TrailerRecord("a", feature_status={"vggish": "missing: no audio"}).outcome == "ok"
