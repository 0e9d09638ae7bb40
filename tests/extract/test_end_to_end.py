"""The real trailer end to end into a store, and the Ray engine on a local instance."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.store import FeatureStore

BBB_TITLE_CARDS_S = [(4, 9), (11, 14), (17, 23), (33, 36), (48, 51), (53, 55)]


@pytest.mark.slow
def test_trailer_bbb_into_a_store_with_clip(media, tmp_path: Path, random_clip: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    os.symlink(media("trailer_bbb.mp4"), root / "bbb.mp4")
    result = CliRunner().invoke(
        main,
        [
            "--quiet",
            "extract",
            str(root),
            "--store",
            str(tmp_path / "s"),
            "--features",
            "clip,colorhist",
            "--option",
            "colorhist.sampler=every-k",
            "--batch-size",
            "16",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["ok"] == 1 and summary["stage_s"]["models"] > 0
    store = FeatureStore.open(tmp_path / "s")
    record = store.record("bbb")
    assert record.status == "ok" and abs(record.duration_s - 55.1) < 0.2
    assert record.feature_status == {"clip": "ok", "colorhist": "ok"}
    clip = store.get("bbb", "clip")
    assert clip.values.shape[1] == 512 and 5 <= len(clip) <= 30  # one row per scene
    assert clip.spans[0, 0] == 0.0 and abs(clip.spans[-1, 1] - 55.1) < 0.2
    assert np.all(clip.spans[1:, 0] == clip.spans[:-1, 1])  # scenes tile the trailer
    scenes = record.extra["scenes"]  # the boundaries are stored: one scene-middle row per shot
    assert scenes["detector"] == "content" and len(scenes["cuts_s"]) == len(clip) - 1
    np.testing.assert_allclose(clip.spans[1:, 0], scenes["cuts_s"], atol=1e-6)
    np.testing.assert_allclose(
        np.linalg.norm(clip.values.astype(np.float32), axis=1), 1.0, atol=2e-3
    )  # L2-normalised, stored as float16
    hist = store.get("bbb", "colorhist")
    assert len(hist) == 111  # 1323 frames, every 12th
    provenance = store.provenance("clip")
    assert provenance["sampling"]["scene_detector"] == "content"
    assert (
        provenance["weights_sha256"]
        == __import__("hashlib").sha256(random_clip.read_bytes()).hexdigest()
    )


@pytest.mark.slow
def test_ray_engine_with_fractional_cpus(tmp_path: Path, cuts_video_maker) -> None:
    ray = pytest.importorskip("ray")
    from cinefeat.extract.ray_engine import run_ray
    from cinefeat.extract.runner import RunOptions
    from cinefeat.extract.scan import scan

    root = tmp_path / "d"
    root.mkdir()
    for i in range(12):
        cuts_video_maker(root / f"t{i:02d}.mp4", ["red", "blue"], audio=False)
    store_path = tmp_path / "s"
    FeatureStore.create(store_path)
    summary = run_ray(
        store_path,
        ["colorhist"],
        {},
        RunOptions(run_id="r", worker_id="w"),
        scan(root).trailers,
        actors=2,
        cpus_per_actor=0.5,
        init_options={"num_cpus": 1, "object_store_memory": 80 * 1024**2},
    )
    assert (summary.ok, summary.failed) == (12, 0)
    assert not ray.is_initialized()  # the instance this run started is shut down
    store = FeatureStore.open(store_path)
    assert store.ids(status="ok") == [f"t{i:02d}" for i in range(12)]
    # one part per actor, each written by one writer over all the chunks it was given
    assert sorted(p.split("-ray")[1][0] for p in store.parts()) == ["0", "1"]
    assert set(store.lengths("colorhist").values()) == {2}
