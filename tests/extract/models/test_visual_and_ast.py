"""AST, ViT (HF and SWAG) and I3D through the registry, from random weights saved in the exact
published formats (Hugging Face safetensors directories, torchvision and piergiaj state dicts)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from cinefeat.extract import pretrained
from cinefeat.extract.base import EXTRACTORS, ClipRequest, FrameRequest
from cinefeat.extract.extractors import i3d as i3d_extractor
from cinefeat.extract.extractors import vit as vit_extractor
from cinefeat.extract.nets.i3d import InceptionI3d, same_padding


def _into_cache(folder, entry: str) -> None:
    target = pretrained.entry_dir(entry)
    target.mkdir(parents=True)
    for path in folder.iterdir():
        shutil.copyfile(path, target / path.name)


def test_ast_pooled_output_of_overlapping_windows(ast_cache):
    extractor = EXTRACTORS.create("ast")
    request = extractor.request()
    assert (request.sample_rate, request.window_s, request.hop_s) == (16000, 10.24, 5.12)
    extractor.load("cpu")
    assert extractor.dim == 32  # read from the directory's config (768 for the real model)
    window = round(10.24 * 16000)
    rng = np.random.default_rng(0)
    items = [rng.normal(0, 0.1, window).astype(np.float32), np.zeros(window, np.float32)]
    out = extractor.extract_batch(items)
    assert out.shape == (2, 32) and np.isfinite(out).all()
    assert not np.allclose(out[0], out[1])


@pytest.fixture
def vit_cache(tmp_cache, tmp_path):
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    config = ViTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=224,
        patch_size=16,
        num_labels=1000,
    )
    torch.manual_seed(0)
    folder = tmp_path / "vit"
    ViTForImageClassification(config).save_pretrained(folder, safe_serialization=True)
    ViTImageProcessor().save_pretrained(folder)
    _into_cache(folder, "vit-base-patch16-224")
    return tmp_cache


def test_vit_cls_of_frames(vit_cache):
    extractor = EXTRACTORS.create("vit")
    assert extractor.request() == FrameRequest(sampler="scene-middle", short_side=224)
    extractor.load("cpu")
    rng = np.random.default_rng(0)
    frames = [
        rng.integers(0, 255, (224, 398, 3), dtype=np.uint8),
        rng.integers(0, 255, (300, 300, 3), dtype=np.uint8),
    ]  # resized + cropped here
    out = extractor.extract_batch(frames)
    assert out.shape == (2, 32) and np.isfinite(out).all()
    with torch.inference_mode():  # the CLS token of transformers' own forward pass
        pixels = torch.from_numpy(frames[0][:, 87:311]).permute(2, 0, 1)[None].float() / 255
        expected = extractor.model.model(pixel_values=(pixels - 0.5) / 0.5)
    np.testing.assert_allclose(out[0], expected.last_hidden_state[0, 0].numpy(), atol=1e-5)


def _tiny_torchvision_vit(image_size: int):
    from torchvision.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        image_size=image_size, patch_size=14, num_layers=1, num_heads=2, hidden_dim=32, mlp_dim=64
    )


@pytest.fixture
def swag_cache(tmp_cache, monkeypatch):
    monkeypatch.setattr(vit_extractor, "build_swag_vit", _tiny_torchvision_vit)
    torch.manual_seed(0)
    path = pretrained.entry_dir("vit-h-14-swag") / vit_extractor.SWAG_FILE
    path.parent.mkdir(parents=True)
    torch.save(_tiny_torchvision_vit(56).state_dict(), path)
    return tmp_cache


def test_vit_swag_option(swag_cache, monkeypatch):
    monkeypatch.setattr(vit_extractor, "SWAG_SHA256_PREFIX", "")  # random file, real prefix check
    extractor = EXTRACTORS.create("vit", backbone="vit_h_14_swag", image_size=56)
    extractor.load("cpu")
    out = extractor.extract_batch([np.full((56, 80, 3), 128, np.uint8)])
    assert out.shape == (1, 32) == (1, extractor.dim)
    assert EXTRACTORS.create("vit", backbone="vit_h_14_swag").dim == 1280
    assert EXTRACTORS.create("vit", backbone="vit_h_14_swag").request().short_side == 518


def test_vit_swag_checks_the_published_sha256_prefix(swag_cache):
    extractor = EXTRACTORS.create("vit", backbone="vit_h_14_swag", image_size=56)
    with pytest.raises(pretrained.ChecksumMismatch, match="80465313"):
        extractor.load("cpu")


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [(224, 7, 2, (2, 3)), (223, 7, 2, (3, 3)), (8, 3, 1, (1, 1)), (3, 2, 2, (0, 1))],
)
def test_tf_same_padding(size, kernel, stride, expected):
    pads = same_padding((size, 1, 1), (kernel, 1, 1), (stride, 1, 1))
    assert pads[-2:] == expected  # the time axis comes last in F.pad order
    out = (size + sum(expected) - kernel) // stride + 1
    assert out == -(-size // stride)  # SAME: ceil(size / stride)


@pytest.fixture
def i3d_cache(tmp_cache):
    torch.manual_seed(0)
    state = {
        k: v
        for k, v in InceptionI3d().state_dict().items()
        if not k.endswith("num_batches_tracked")
    }  # the 2018 file predates that buffer
    path = pretrained.entry_dir("i3d-rgb-imagenet") / "rgb_imagenet.pt"
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return tmp_cache


def test_i3d_pads_short_clips_and_embeds(i3d_cache):
    extractor = EXTRACTORS.create("i3d", frames_per_clip=8, crop_size=64, short_side=64)
    assert extractor.request() == ClipRequest(
        sampler="shot-clips", frames_per_clip=8, short_side=64
    )
    assert EXTRACTORS.create("i3d").request().short_side == 256
    extractor.load("cpu")
    rng = np.random.default_rng(0)
    full = rng.integers(0, 255, (8, 64, 96, 3), dtype=np.uint8)
    short = full[:3]
    out = extractor.extract_batch([full, short, np.repeat(full[2:3], 8, axis=0)])
    assert out.shape == (3, 1024) and np.isfinite(out).all()
    padded = i3d_extractor.pad_clip(short, 8)
    assert padded.shape[0] == 8 and (padded[3:] == short[-1]).all()
    assert not np.allclose(out[0], out[1])


def test_i3d_rejects_a_foreign_state_dict(tmp_cache):
    path = pretrained.entry_dir("i3d-rgb-imagenet") / "rgb_imagenet.pt"
    path.parent.mkdir(parents=True)
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(Exception, match="does not match InceptionI3d"):
        EXTRACTORS.create("i3d").load("cpu")


@pytest.mark.parametrize(
    ("name", "options", "filename"),
    [
        ("ast", {}, "model.safetensors"),
        ("vit", {}, "model.safetensors"),
        ("vit", {"backbone": "vit_h_14_swag"}, "vit_h_14_swag-80465313.pth"),
        ("i3d", {}, "rgb_imagenet.pt"),
    ],
)
def test_missing_weights_offline(tmp_cache, name, options, filename):
    extractor = EXTRACTORS.create(name, **options)
    with pytest.raises(pretrained.WeightsNotFound) as error:
        extractor.load("cpu")
    assert filename in str(error.value)
    assert f"cinefeat models download {extractor.weights}" in str(error.value)


def test_vit_directory_missing_tensors_is_an_error(vit_cache):
    """transformers would silently leave missing tensors random; we refuse the directory."""
    from safetensors.torch import load_file, save_file

    from cinefeat.extract.nets.runtime import CheckpointError

    path = pretrained.entry_dir("vit-base-patch16-224") / "model.safetensors"
    state = load_file(str(path))
    dropped = next(k for k in state if "encoder.layer.0.attention" in k)
    del state[dropped]
    save_file(state, str(path), metadata={"format": "pt"})
    pretrained.add_local("vit-broken", path, like="vit-base-patch16-224")
    with pytest.raises(CheckpointError, match="lacks 1 ViTModel tensors"):
        EXTRACTORS.create("vit", weights="vit-broken").load("cpu")
