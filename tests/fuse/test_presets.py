"""Named presets (`HEAD:PAPER`): each reproduces what the paper's public code does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cinefeat.fuse.heads import PRESETS, FeatureSpec, HeadConfigError, build_head, head_choices
from cinefeat.fuse.heads.encoders import equidistant
from cinefeat.fuse.heads.hierarchical import compress, compress_running

LABELS = [f"g{i}" for i in range(21)]
# The project's paper sizes (cinefeat.fuse.synthetic_tasks.PAPER_DIMS, musicnet at the paper's 64).
PAPER = [
    FeatureSpec("clip", 512, 216),
    FeatureSpec("ocr", 384, 64),
    FeatureSpec("asr", 384, 86),
    FeatureSpec("audiotag", 527, 140),
    FeatureSpec("musicnet", 64, 18),
]


def test_every_preset_builds_and_is_a_cli_choice() -> None:
    for name, preset in PRESETS.items():
        head = build_head(name, [FeatureSpec("clip", 8, 40)], ["a", "b"])
        assert head.name == preset.head
        for key, value in preset.options.items():
            assert getattr(head.config, key) == value
        assert name in head_choices()


def test_explicit_options_override_the_preset() -> None:
    head = build_head("mlp:sulun2024", PAPER, LABELS, {"dropout": "0.2"})
    assert head.config.layers == 0 and head.config.dropout == 0.2


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(HeadConfigError, match="mlp:sulun2024"):
        build_head("mlp:nobody", PAPER, LABELS)


def test_sulun_mlp_is_one_linear_layer() -> None:
    # serkansulun/movie-genre-classification, classification/src/classifiers.py `MLP`: n_layers=1
    # gives sizes [input, labels], one nn.Linear and no dropout.
    head = build_head("mlp:sulun2024", PAPER, LABELS)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    dropouts = [m for m in head.modules() if isinstance(m, nn.Dropout) and m.p > 0]
    assert len(linears) == 1 and not dropouts
    assert sum(p.numel() for p in head.parameters()) == 1871 * 21 + 21  # 39,312
    default = build_head("mlp", PAPER, LABELS)
    assert sum(p.numel() for p in default.parameters()) > 10 * 39_312


@pytest.mark.parametrize("name", ["single-transformer", "multi-transformer"])
def test_sulun_transformers_end_in_layer_norm(name: str) -> None:
    # classifiers.py `Transformer`: TransformerEncoder(encoder_layers, n_layers, norm=LayerNorm).
    head = build_head(f"{name}:sulun2024", [FeatureSpec("clip", 8, 4)], ["a"], {"d_model": 16})
    encoders = [m for m in head.modules() if isinstance(m, nn.TransformerEncoder)]
    assert encoders and all(isinstance(e.norm, nn.LayerNorm) for e in encoders)
    plain = build_head(name, [FeatureSpec("clip", 8, 4)], ["a"], {"d_model": 16})
    assert all(m.norm is None for m in plain.modules() if isinstance(m, nn.TransformerEncoder))


def test_equidistant_matches_sulun_indices() -> None:
    # utils.py `equidistant_indices`: np.round(np.linspace(0, source - 1, num=target)).
    values = torch.arange(40.0).view(2, 20, 1)
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[1, 13:] = False  # second trailer: 13 real rows
    picked, kept = equidistant(values, mask, 6)
    first = np.round(np.linspace(0, 19, 6)).astype(int)
    second = np.round(np.linspace(0, 12, 6)).astype(int) + 20
    assert picked[0, :, 0].long().tolist() == first.tolist()
    assert picked[1, :, 0].long().tolist() == second.tolist()
    assert kept.all()
    short, short_mask = equidistant(values[:, :5], mask[:, :5], 6)  # not longer: untouched
    assert torch.equal(short, values[:, :5]) and torch.equal(short_mask, mask[:, :5])


@pytest.mark.parametrize("name", ["single-transformer", "multi-transformer"])
def test_sulun_transformers_see_the_whole_of_a_long_trailer(name: str) -> None:
    torch.manual_seed(0)
    head = build_head(f"{name}:sulun2024", [FeatureSpec("clip", 4, 5)], ["a"], {"d_model": 8})
    head.eval()
    values = torch.randn(1, 50, 4)
    mask = torch.ones(1, 50, dtype=torch.bool)
    out = head({"clip": values}, {"clip": mask})
    changed = values.clone()
    changed[:, -1] += 10.0  # the last row is one of the equidistant picks
    assert not torch.allclose(out, head({"clip": changed}, {"clip": mask}))
    rows = np.round(np.linspace(0, 49, 5)).astype(int)
    same = head({"clip": values[:, rows]}, {"clip": mask[:, rows]})
    torch.testing.assert_close(out, same)


def slow_pan(steps: int = 40, degrees: float = 120.0) -> torch.Tensor:
    angles = np.radians(np.linspace(0.0, degrees, steps))
    return torch.tensor(np.stack([np.cos(angles), np.sin(angles)], 1), dtype=torch.float32)[None]


def test_running_compression_does_not_chain_a_slow_pan() -> None:
    values, mask = slow_pan(), torch.ones(1, 40, dtype=torch.bool)
    _, neighbour = compress(values, mask, 0.9)
    pooled, running = compress_running(values, mask, 0.9)
    assert int(neighbour.sum()) == 1  # 3-degree steps: every neighbour is similar
    assert int(running.sum()) >= 3  # 120 degrees cannot be one group against the merged vector
    # each group's vector is the max-pool of its members, in order
    assert torch.all(pooled[0, : int(running.sum()), 0] <= 1.0)


@pytest.mark.parametrize("method", [compress, compress_running])
def test_threshold_one_merges_nothing_even_identical_frames(method) -> None:
    values = torch.full((1, 6, 3), 0.3)  # cosine 1 + rounding with itself
    mask = torch.ones(1, 6, dtype=torch.bool)
    _, groups = method(values, mask, 1.0)
    assert int(groups.sum()) == 6
    _, merged = method(values, mask, 0.99)
    assert int(merged.sum()) == 1


def test_cai_preset_uses_running_compression() -> None:
    head = build_head("hierarchical:cai", [FeatureSpec("pan", 2, 40)], ["a"], {"d_model": 8})
    assert head.compress is compress_running


def test_divita_feed_forward_is_six_times_d() -> None:
    # richardtml/DIViTA, model/divita.py `build_cam_tsfm`: ff_mult = 6 (128 hiddens, 4 heads).
    head = build_head("clip-aggregation:divita", [FeatureSpec("clip", 8, 60)], ["a"])
    layer = head.encoder.layers[0]
    assert layer.linear1.out_features == 6 * head.config.d_model


def test_divita_windows_are_aligned_across_features() -> None:
    specs = [FeatureSpec("image", 1, 100), FeatureSpec("video", 1, 100)]
    head = build_head("clip-aggregation:divita", specs, ["a"], {"window": 5})
    steps = torch.arange(100.0).view(1, 100, 1).expand(8, -1, -1).contiguous()
    inputs = {"image": steps, "video": steps.clone()}
    masks = {n: torch.ones(8, 100, dtype=torch.bool) for n in inputs}
    views, _ = head.training_view(inputs, masks, torch.Generator().manual_seed(0))
    assert torch.equal(views["image"], views["video"])
    loose = build_head("clip-aggregation", specs, ["a"], {"window": 5})
    views, _ = loose.training_view(inputs, masks, torch.Generator().manual_seed(0))
    assert not torch.equal(views["image"], views["video"])
