"""I3D's flow and two-stream modes: RAFT flow on the decoded clip, the port's flow weights, and a
default RGB stream whose recorded config did not change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinefeat.extract import pretrained
from cinefeat.extract.extractors import EXTRACTORS
from cinefeat.extract.flow import ClipFlow, i3d_flow_input
from cinefeat.extract.nets.i3d import InceptionI3d

# config_hash of `i3d` with its defaults and with fixed 64-frame stacks, as main recorded them
# before streams existed (5b194ec): a store written then must not recompute its I3D feature.
DEFAULT_HASH = "41f317207a12d4d4ae12e1621882bae52b031323db3fc338aed0eaf2d9c07ce2"
STACKS_HASH = "962d58e10c5fbf328d9b063e3b3710c5bcf878c7fa3f296248b5259dd0ed98d3"


def test_rgb_stream_records_the_same_config_as_before():
    assert EXTRACTORS.create("i3d").provenance()["config_hash"] == DEFAULT_HASH
    stacks = EXTRACTORS.create("i3d", frames_per_clip=64, fps=25)
    assert stacks.provenance()["config_hash"] == STACKS_HASH
    assert EXTRACTORS.create("i3d", stream="flow").provenance()["config_hash"] != DEFAULT_HASH


def _local(tmp_path, name, state, like, **save):
    path = tmp_path / name
    torch.save(state, path, **save)
    return pretrained.add_local(f"test-{name}", path, like=like).name


@pytest.fixture
def stream_weights(tmp_cache, tmp_path):
    """Random weights as their publishers saved them: the 2018 port's plain state dicts in the
    legacy container (without BatchNorm's num_batches_tracked), torchvision's RAFT state dict."""
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)

    def port(channels):
        state = InceptionI3d(in_channels=channels).state_dict()
        return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}

    legacy = {"_use_new_zipfile_serialization": False}
    return {
        "weights": _local(tmp_path, "rgb_imagenet.pt", port(3), "i3d-rgb-imagenet", **legacy),
        "flow_weights": _local(
            tmp_path, "flow_imagenet.pt", port(2), "i3d-flow-imagenet", **legacy
        ),
        "optical_flow_weights": _local(
            tmp_path,
            "raft_small.pth",
            raft_small(weights=None).state_dict(),
            "torchvision-raft_small",
        ),
    }


def _moving_clip(frames=4, size=128):
    """A textured square sliding 2 px right per frame (flow points +x inside it)."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
    clip = np.full((frames, size, size, 3), 90, dtype=np.uint8)
    for t in range(frames):
        clip[t, 52:76, 40 + 2 * t : 64 + 2 * t] = texture
    return clip


@pytest.mark.slow
def test_clip_flow_is_torchvisions_raft(stream_weights):
    from torchvision.models.optical_flow import raft_small
    from torchvision.transforms._presets import OpticalFlow

    flow = ClipFlow("raft_small", stream_weights["optical_flow_weights"])
    flow.load("cpu")
    clip = _moving_clip()
    ours = flow(clip[None])[0]
    assert ours.shape == (4, 128, 128, 2)
    reference = raft_small(weights=None)
    reference.load_state_dict(torch.load(pretrained.fetch(flow.weights_name), weights_only=True))
    frames = torch.from_numpy(clip).permute(0, 3, 1, 2)
    first, second = OpticalFlow()(frames[:-1], frames[1:])
    with torch.inference_mode():
        expected = reference.eval()(first, second, num_flow_updates=12)[-1].permute(0, 2, 3, 1)
    np.testing.assert_allclose(ours[:-1], expected.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(ours[-1], ours[-2])  # T flows for T frames


def test_flow_input_is_truncated_and_scaled():
    flow = np.array([-45.0, -20.0, 0.0, 10.0, 33.0], dtype=np.float32)
    np.testing.assert_allclose(i3d_flow_input(flow), [-1.0, -1.0, 0.0, 0.5, 1.0])


@pytest.mark.slow
def test_two_stream_is_rgb_then_flow(stream_weights):
    common = {"frames_per_clip": 4, "crop_size": 128, "short_side": 128, **stream_weights}
    clips = [_moving_clip(), _moving_clip(frames=3)]  # a short clip is padded
    rgb = EXTRACTORS.create("i3d", **common)
    flow = EXTRACTORS.create("i3d", stream="flow", **common)
    both = EXTRACTORS.create("i3d", stream="two-stream", **common)
    for extractor in (rgb, flow, both):
        extractor.load("cpu")
    out = both.extract_batch(clips)
    assert out.shape == (2, 2048) == (2, both.dim)
    np.testing.assert_allclose(out[:, :1024], rgb.extract_batch(clips), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[:, 1024:], flow.extract_batch(clips), rtol=1e-5, atol=1e-5)
    info = both.provenance()
    assert info["flow_weights"] == stream_weights["flow_weights"] and info["flow_weights_sha256"]
    assert "RAFT" in info["optical_flow"]


def test_flow_stream_refuses_rgb_weights(stream_weights):
    """The RGB file has 3 input channels: loading it as the flow stream names the mismatch."""
    extractor = EXTRACTORS.create(
        "i3d", stream="flow", crop_size=128, short_side=128,
        flow_weights=stream_weights["weights"],
        optical_flow_weights=stream_weights["optical_flow_weights"],
    )  # fmt: skip
    with pytest.raises(RuntimeError, match=r"size mismatch|Conv3d_1a"):
        extractor.load("cpu")


def test_bad_stream_options():
    with pytest.raises(ValueError, match="stream must be one of"):
        EXTRACTORS.create("i3d", stream="depth")
    with pytest.raises(ValueError, match="divisible by 8"):
        EXTRACTORS.create("i3d", stream="flow", crop_size=132, short_side=160)
    with pytest.raises(ValueError, match="at least 128"):
        EXTRACTORS.create("i3d", stream="flow", crop_size=64, short_side=64)
