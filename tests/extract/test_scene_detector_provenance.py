"""`cinefeat extract` records the scene detector in the one provenance hash, and refuses to extend a
store made with another detector (issue 16, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.store import FeatureStore
from cinefeat.store.provenance import provenance_hash
from cinefeat.store.validate import validate


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    return result.exit_code, result.output + str(result.exception or "")


def test_a_store_made_with_one_detector_refuses_another(tmp_path: Path, cuts_video_maker) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    cuts_video_maker(videos / "a.mp4", ["red", "blue"], audio=False)
    store_path = tmp_path / "store"
    code, out = invoke(
        "extract", str(videos), "--store", str(store_path), "--features", "colorhist",
        "--scene-detector", "content",
    )  # fmt: skip
    assert code == 0, out
    store = FeatureStore.open(store_path)
    prov = store.provenance("colorhist")
    assert prov["sampling"]["scene_detector"] == "content"
    # the hash is the spec's: full sha256 of the complete provenance, detector included
    assert prov["config_hash"] == provenance_hash(prov) and len(prov["config_hash"]) == 64
    assert validate(store).ok
    # what `cinefeat predict` rebuilds from a head (cli/heads.py) hashes to the same value
    from cinefeat.extract.extractors import EXTRACTORS

    rebuilt = EXTRACTORS.create("colorhist").provenance(scene_detector="content")
    assert rebuilt["config_hash"] == prov["config_hash"]

    cuts_video_maker(videos / "b.mp4", ["green", "white"], audio=False)
    code, out = invoke(
        "extract", str(videos), "--store", str(store_path), "--features", "colorhist",
        "--scene-detector", "adaptive",
    )  # fmt: skip
    assert code != 0
    assert "sampling.scene_detector: 'content' != 'adaptive'" in out, out
    store = FeatureStore.open(store_path)
    assert store.ids() == ["a"]  # nothing was written with the other detector

    code, out = invoke(
        "extract", str(videos), "--store", str(store_path), "--features", "colorhist",
        "--scene-detector", "content",
    )  # fmt: skip
    assert code == 0, out
    assert FeatureStore.open(store_path).ids() == ["a", "b"]


def test_an_edited_provenance_fails_validate(tmp_path: Path, cuts_video_maker) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    cuts_video_maker(videos / "a.mp4", ["red", "blue"], audio=False)
    store_path = tmp_path / "store"
    code, out = invoke(
        "extract", str(videos), "--store", str(store_path), "--features", "colorhist"
    )
    assert code == 0, out
    (meta_path,) = store_path.glob("parts/*/features/colorhist/zarr.json")
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["provenance"]["sampling"]["scene_detector"] = "adaptive"
    meta_path.write_text(json.dumps(meta))
    report = validate(FeatureStore.open(store_path))
    assert not report.ok
    assert [p.kind for p in report.problems if p.severity == "error"] == ["provenance-hash"]
