"""NetVLAD pooling (`pooling=netvlad`) and Fish et al.'s per-clip collaborative gating
(`gated:fish2020`): shapes, invariances, gradient flow and the clip structure."""

from __future__ import annotations

import pytest
import torch

from cinefeat.fuse.heads import FeatureSpec, HeadConfigError, build_head
from cinefeat.fuse.heads.gated import clip_means
from cinefeat.fuse.heads.vlad import NetVLAD

LABELS = ["a", "b", "c"]


def _batch(lengths: list[int], dim: int = 6, max_len: int = 9, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(len(lengths), max_len, dim, generator=generator)
    mask = torch.arange(max_len)[None, :] < torch.tensor(lengths)[:, None]
    return values, mask


def test_netvlad_shape_and_soft_assignments_sum_to_one() -> None:
    torch.manual_seed(0)
    pool = NetVLAD(6, clusters=4)
    values, mask = _batch([9, 3, 1])
    out = pool(values, mask)
    assert out.shape == (3, 24) and pool.out_dim == 24
    soft = pool.assignments(values, mask)
    assert torch.allclose(soft.sum(-1)[mask], torch.ones(int(mask.sum())))
    assert (soft[~mask] == 0).all()  # padding is assigned to no cluster
    assert torch.allclose(out.norm(dim=-1), torch.ones(3))


def test_netvlad_ignores_order_and_padding() -> None:
    torch.manual_seed(0)
    pool = NetVLAD(6, clusters=4)
    values, mask = _batch([7], max_len=7)
    shuffled = values[:, torch.randperm(7)]
    assert torch.allclose(pool(values, mask), pool(shuffled, mask), atol=1e-6)
    padded = torch.cat([values, torch.full((1, 5, 6), 1e4)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(1, 5, dtype=torch.bool)], dim=1)
    assert torch.allclose(pool(values, mask), pool(padded, padded_mask), atol=1e-6)


def test_netvlad_gradient_reaches_assignment_and_centroids() -> None:
    torch.manual_seed(0)
    pool = NetVLAD(6, clusters=4)
    values, mask = _batch([9, 4])
    (pool(values, mask) * torch.randn(2, 24)).sum().backward()
    for parameter in (pool.assign.weight, pool.centroids):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


@pytest.mark.parametrize("head_name", ["mlp", "gated"])
def test_pooling_netvlad_is_a_head_option(head_name: str) -> None:
    specs = [FeatureSpec("clip", 6, 9), FeatureSpec("asr", 5, 9)]
    options = {"pooling": "netvlad", "clusters": "3"}
    if head_name == "gated":
        options.update(d_model="16", hidden="8")
    head = build_head(head_name, specs, LABELS, options).eval()
    values, mask = _batch([9, 2])
    speech, speech_mask = _batch([4, 0], dim=5, seed=1)
    inputs, masks = {"clip": values, "asr": speech}, {"clip": mask, "asr": speech_mask}
    assert head(inputs, masks).shape == (2, 3)
    assert sum(p.numel() for n, p in head.named_parameters() if n.startswith("pools.")) > 0
    with pytest.raises(HeadConfigError, match="pooling"):
        build_head(head_name, specs, LABELS, {"pooling": "max"})


def test_clip_means_cut_each_trailer_into_equal_stretches() -> None:
    values = torch.arange(10, dtype=torch.float32).reshape(1, 10, 1)
    mask = torch.ones(1, 10, dtype=torch.bool)
    means, has = clip_means(values, mask, 5)
    assert means.flatten().tolist() == [0.5, 2.5, 4.5, 6.5, 8.5] and has.all()
    short = torch.tensor([[True, True, False, False, False, False, False, False, False, False]])
    means, has = clip_means(values, short, 5)  # 2 rows, 5 clips: 3 clips are empty
    assert has.tolist() == [[True, False, True, False, False]]
    assert means[0, 0, 0] == 0.0 and means[0, 2, 0] == 1.0


def _fish(**changes):
    specs = [FeatureSpec("clip", 6, 9), FeatureSpec("audio", 4, 9)]
    options = {"d_model": "16", "fused_dim": "8", "hidden": "8", "dropout": "0", **changes}
    torch.manual_seed(0)
    return build_head("gated:fish2020", specs, LABELS, options).eval()


def test_fish2020_gates_per_clip() -> None:
    head = _fish()
    assert head.config.gate_per == "clip" and head.config.fusion == "sum"
    values, mask = _batch([9, 9])
    audio, audio_mask = _batch([9, 9], dim=4, seed=1)
    inputs, masks = {"clip": values, "audio": audio}, {"clip": mask, "audio": audio_mask}
    before = head(inputs, masks)
    # Reversing the order of the rows keeps each whole-trailer mean but changes which rows form
    # which clip: a per-clip head must notice, a whole-trailer-average head cannot.
    flipped = {"clip": values.flip(1), "audio": audio.flip(1)}
    assert not torch.allclose(before, head(flipped, masks), atol=1e-5)
    trailer = _fish(gate_per="trailer")
    assert torch.allclose(trailer(inputs, masks), trailer(flipped, masks), atol=1e-5)


def test_fish2020_missing_expert_in_a_clip_sits_it_out_and_grads_flow() -> None:
    head = _fish()
    values, mask = _batch([9, 9])
    audio, audio_mask = _batch([9, 0], dim=4, seed=1)  # trailer 1 has no audio at all
    garbage = audio.clone()
    garbage[1] = 1e3
    inputs, masks = {"clip": values, "audio": audio}, {"clip": mask, "audio": audio_mask}
    out = head(inputs, masks)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[1], head({"clip": values, "audio": garbage}, masks)[1])
    head.train()
    head(inputs, masks).sum().backward()
    assert head.relation[0].weight.grad.abs().sum() > 0
    assert head.fused.weight.grad.abs().sum() > 0


def test_clip_gating_refuses_netvlad() -> None:
    with pytest.raises(HeadConfigError, match="gate_per=clip"):
        _fish(pooling="netvlad")
