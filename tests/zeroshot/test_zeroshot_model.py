"""Temporal-attention zero-shot head: known-answer scores and padding invariance."""

from __future__ import annotations

import math

import pytest
import torch

from cinefeat.fuse.heads import FeatureSpec, HeadConfigError
from cinefeat.fuse.zeroshot.model import (
    TemporalAttentionZeroShot,
    ZeroShotConfig,
    ZeroShotConfigError,
)


def zero_shot(feature_dims: dict[str, int], **options) -> TemporalAttentionZeroShot:
    specs = [FeatureSpec(name, dim, 0) for name, dim in feature_dims.items()]
    return TemporalAttentionZeroShot(ZeroShotConfig(**options), specs, ["label"])


def identity_model(gamma: float, uniform: str = "mean", dim: int = 2) -> TemporalAttentionZeroShot:
    """f_a = f_s = identity, so s_{c,t} is the plain dot product of label and step vectors."""
    model = zero_shot({"clip": dim}, label_dim=dim, joint_dim=dim, gamma=gamma, uniform=uniform)
    with torch.no_grad():
        for projection in (model.step_projections["clip"], model.label_projection):
            linear = projection[-1]
            linear.weight.copy_(torch.eye(dim))
            linear.bias.zero_()
    return model.eval()


ONE_TRAILER = {"clip": torch.tensor([[[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])}
ALL_REAL = {"clip": torch.ones(1, 3, dtype=torch.bool)}
LABEL = torch.tensor([[1.0, 0.0]])


@pytest.mark.parametrize(
    ("gamma", "uniform", "expected"),
    [
        (1.0, "mean", math.e / (math.e + 2)),
        (0.0, "mean", 1 / 3),
        (0.0, "sum", 1.0),
        (0.5, "mean", 0.5 * math.e / (math.e + 2) + 0.5 / 3),
        (0.5, "sum", 0.5 * math.e / (math.e + 2) + 0.5),
    ],
    ids=["attention-only", "uniform-mean", "uniform-sum-paper", "fused-mean", "fused-sum"],
)
def test_fused_score_known_answer(gamma: float, uniform: str, expected: float) -> None:
    score = identity_model(gamma, uniform).score(ONE_TRAILER, ALL_REAL, LABEL)
    assert score.shape == (1, 1)
    assert score.item() == pytest.approx(expected, abs=1e-6)


def test_attention_weights_follow_the_matching_step() -> None:
    parts = identity_model(0.5).score_parts(ONE_TRAILER, ALL_REAL, LABEL)
    alpha = parts["alpha"][0, 0]
    assert alpha.sum().item() == pytest.approx(1.0)
    assert alpha.argmax().item() == 0
    assert alpha[0].item() == pytest.approx(math.e / (math.e + 2), abs=1e-6)


def test_padded_steps_change_nothing() -> None:
    torch.manual_seed(0)
    model = zero_shot({"clip": 6, "audio": 4}, label_dim=5, joint_dim=8, hidden_dim=16).eval()
    lengths = {"clip": torch.tensor([7, 3, 1]), "audio": torch.tensor([2, 5, 0])}
    masks = {f: torch.arange(9).unsqueeze(0) < n.unsqueeze(1) for f, n in lengths.items()}
    inputs = {"clip": torch.randn(3, 9, 6), "audio": torch.randn(3, 9, 4)}
    labels = torch.randn(4, 5)
    reference = model.score_parts(inputs, masks, labels)

    garbage = {}
    for feature, values in inputs.items():
        noise = torch.randn_like(values) * 1e4
        noise[..., 0] = float("nan")
        garbage[feature] = torch.where(masks[feature].unsqueeze(-1), values, noise)
    changed = model.score_parts(garbage, masks, labels)
    torch.testing.assert_close(changed["p"], reference["p"])
    assert torch.isfinite(changed["p"]).all()
    # attention never lands on a padded step
    joint_mask = torch.cat([masks[f] for f in model.feature_names], dim=1)
    assert (changed["alpha"][~joint_mask.unsqueeze(1).expand_as(changed["alpha"])] == 0).all()


def test_trailer_without_any_real_step_scores_zero() -> None:
    model = identity_model(0.5)
    empty = {"clip": torch.zeros(1, 3, dtype=torch.bool)}
    assert model.score(ONE_TRAILER, empty, LABEL).item() == 0.0


def test_forward_and_embed_follow_the_heads_contract() -> None:
    model = identity_model(0.5)
    model.set_labels(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), ["heist", "romance"])
    logits = model(ONE_TRAILER, ALL_REAL)
    assert logits.shape == (1, 2)
    assert logits[0, 0] > logits[0, 1]
    torch.testing.assert_close(model.embed(ONE_TRAILER, ALL_REAL), torch.tensor([[1 / 3, 0.0]]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label_dim": 4, "gamma": 1.5}, "gamma must be in"),
        ({"label_dim": 4, "uniform": "max"}, "'mean' or 'sum'"),
    ],
)
def test_bad_config_names_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ZeroShotConfigError, match=message):
        ZeroShotConfig(**kwargs)


def test_a_head_without_features_names_the_fix() -> None:
    with pytest.raises(HeadConfigError, match="at least one feature"):
        zero_shot({}, label_dim=4)


def test_missing_feature_and_wrong_label_dim_are_typed_errors() -> None:
    model = identity_model(0.5)
    with pytest.raises(HeadConfigError, match=r"inputs lack \['clip'\]"):
        model.score({"audio": torch.zeros(1, 3, 2)}, {"audio": ALL_REAL["clip"]}, LABEL)
    with pytest.raises(ZeroShotConfigError, match="text encoder used in"):
        model.set_labels(torch.zeros(2, 3), ["a", "b"])


def test_labels_before_set_labels_are_seeded_unit_vectors() -> None:
    """Built by name (`cinefeat train --head zeroshot`), the head holds fixed random labels:
    the same in every build, so a supervised run is repeatable."""
    first, second = zero_shot({"clip": 2}, label_dim=5), zero_shot({"clip": 2}, label_dim=5)
    torch.testing.assert_close(first.label_embeddings, second.label_embeddings)
    torch.testing.assert_close(first.label_embeddings.norm(dim=1), torch.ones(1))
    assert first(ONE_TRAILER, ALL_REAL).shape == (1, 1)
