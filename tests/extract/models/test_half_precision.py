"""Half precision: float16 on CUDA, bfloat16 on CPUs with native bf16, fp32 everywhere else."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinefeat.extract.extractors import EXTRACTORS
from cinefeat.extract.nets import runtime

native_bf16 = pytest.mark.skipif(
    not runtime.cpu_has_native_bf16(), reason="this CPU has no native bfloat16 (AMX/AVX512-BF16)"
)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_place_uses_bf16_on_a_cpu_only_where_it_is_native(monkeypatch):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    placed, half = runtime.place(model, "cpu", fp16=True)
    assert not half and placed[0].weight.dtype == torch.float32  # emulated bf16 is slower

    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    placed, half = runtime.place(model, "cpu", fp16=True)
    assert half and placed[0].weight.dtype == torch.bfloat16
    x = torch.ones(2, 4)
    assert runtime.cast_input(x, placed).dtype == torch.bfloat16
    assert runtime.half_dtype("cuda:1") == torch.float16

    placed, half = runtime.place(torch.nn.Linear(4, 3), "cpu", fp16=False)
    assert not half and placed.weight.dtype == torch.float32
    assert runtime.cast_input(x, placed) is x


@native_bf16
def test_clip_in_bf16_on_cpu_gives_the_fp32_embeddings(random_clip):
    frames = list(np.random.default_rng(0).integers(0, 256, (6, 224, 300, 3), dtype=np.uint8))
    full = EXTRACTORS.create("clip")
    full.load("cpu", fp16=False)
    half = EXTRACTORS.create("clip")
    half.load("cpu", fp16=True)
    assert not full.fp16 and half.fp16
    assert next(half.model.parameters()).dtype == torch.bfloat16
    a, b = full.extract_batch(frames), half.extract_batch(frames)
    assert b.dtype == np.float32 and b.shape == a.shape == (6, 512)
    assert _cosines(a, b).min() > 0.999


@native_bf16
def test_real_music_tagger_in_bf16_keeps_its_tags(choi_cache, media):
    from cinefeat.extract.audio_features import read_audio

    wave, _ = read_audio(str(media("trailer_bbb.mp4")), 12000)
    windows = [wave[start : start + 349_440] for start in (0, 200_000)]
    full = EXTRACTORS.create("musicnet", output="both")
    full.load("cpu", fp16=False)
    half = EXTRACTORS.create("musicnet", output="both")
    half.load("cpu", fp16=True)
    assert half.fp16
    a, b = full.extract_batch(windows), half.extract_batch(windows)
    assert _cosines(a[:, :256], b[:, :256]).min() > 0.99
    for tags_full, tags_half in zip(a[:, 256:], b[:, 256:], strict=True):
        top_full, top_half = set(np.argsort(-tags_full)[:5]), set(np.argsort(-tags_half)[:5])
        assert len(top_full & top_half) >= 4
        assert np.abs(tags_full - tags_half).max() < 0.05
