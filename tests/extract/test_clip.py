"""CLIP: the real loading path (registry -> cache -> sha256 -> safetensors) with random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract import pretrained
from cinefeat.extract.base import EXTRACTORS
from cinefeat.extract.extractors.clip import DEFAULT_WEIGHTS, ClipExtractor, center_crop


def test_default_entry_is_the_open_clip_safetensors_file() -> None:
    assert DEFAULT_WEIGHTS.name == "clip-vit-b-32-openai"
    assert DEFAULT_WEIGHTS.main_file.url == (
        "https://huggingface.co/timm/vit_base_patch32_clip_224.openai/resolve/main/"
        "open_clip_model.safetensors"
    )
    assert DEFAULT_WEIGHTS.preprocessing["quick_gelu"] is True
    assert "clip" in EXTRACTORS.names()


def test_missing_weights_offline_names_file_url_and_command(tmp_cache: Path) -> None:
    with pytest.raises(pretrained.WeightsNotFound) as error:
        ClipExtractor().load()
    text = str(error.value)
    assert "open_clip_model.safetensors" in text and "huggingface.co/timm" in text
    assert "cinefeat models download clip-vit-b-32-openai" in text


def test_random_vit_b_32_loads_through_the_normal_path(random_clip: Path) -> None:
    import open_clip
    import torch

    extractor = ClipExtractor()
    extractor.load()
    frames = [
        np.random.default_rng(i).integers(0, 255, (224, 300, 3), dtype=np.uint8) for i in range(3)
    ]
    out = extractor.extract_batch(frames)
    assert out.shape == (3, 512) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # the same tensors through open_clip's own encode_image give the same embedding
    torch.manual_seed(0)
    reference = open_clip.create_model(
        "ViT-B-32", pretrained=str(random_clip), force_quick_gelu=True
    ).eval()
    mean = torch.tensor(DEFAULT_WEIGHTS.preprocessing["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(DEFAULT_WEIGHTS.preprocessing["std"]).view(1, 3, 1, 1)
    pixels = torch.from_numpy(np.stack([center_crop(f, 224) for f in frames])).permute(0, 3, 1, 2)
    with torch.no_grad():
        expected = reference.encode_image((pixels.float() / 255 - mean) / std, normalize=True)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-4)
    info = extractor.provenance()
    assert info["weights_sha256"] == pretrained.sha256_of(random_clip)
    assert info["model"] == "open_clip:ViT-B-32/openai" and info["dim"] == 512
    unnormalised = ClipExtractor(normalize=False)
    unnormalised.load()
    raw = unnormalised.extract_batch(frames[:1])
    assert not np.isclose(np.linalg.norm(raw), 1.0)


def test_tampered_file_is_refused(random_clip: Path) -> None:
    ClipExtractor().load()  # records the sha256 (trust on first use)
    data = bytearray(random_clip.read_bytes())
    data[-4:] = b"\x00\x01\x02\x03"
    random_clip.unlink()  # a hard link to the session's file: replace, never write into it
    random_clip.write_bytes(bytes(data))
    with pytest.raises(pretrained.ChecksumMismatch, match="cinefeat models download"):
        ClipExtractor().load()


def test_center_crop_and_bad_shape() -> None:
    frame = np.zeros((224, 400, 3), np.uint8)
    frame[:, 88:312] = 255
    assert center_crop(frame, 224).min() == 255
    assert center_crop(np.zeros((448, 600, 3), np.uint8), 224).shape == (224, 224, 3)
    with pytest.raises(ValueError, match="HxWx3"):
        center_crop(np.zeros((4, 4), np.uint8), 224)


def test_any_open_clip_model_gets_a_registry_entry_from_open_clips_table(tmp_cache) -> None:
    from cinefeat.extract.extractors.clip import ClipConfigError, register_open_clip_weights

    entry = register_open_clip_weights("ViT-B-16", "laion2b_s34b_b88k")
    assert entry.name == "clip-vit-b-16-laion2b_s34b_b88k"
    assert entry.main_file.url == (
        "https://huggingface.co/laion/CLIP-ViT-B-16-laion2B-s34B-b88K/resolve/main/"
        "open_clip_model.safetensors"
    )
    assert entry.format == "open_clip-safetensors" and entry.main_file.sha256 is None
    assert ClipExtractor(model="ViT-L-14").dim == 768
    with pytest.raises(ClipConfigError, match="list_pretrained"):
        register_open_clip_weights("ViT-B-16", "no-such-tag")
    with pytest.raises(pretrained.WeightsNotFound, match="models download clip-vit-b-16"):
        ClipExtractor(model="ViT-B-16", pretrained="laion2b_s34b_b88k").load()
