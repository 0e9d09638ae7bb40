"""Dogan et al.'s configuration of the zero-shot head: tanh projections, SGD, the zero rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cinefeat.fuse.heads import FeatureSpec
from cinefeat.fuse.zeroshot.cli import DEFAULTS, PRESETS
from cinefeat.fuse.zeroshot.metrics import zero_rule
from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot, ZeroShotConfig
from cinefeat.fuse.zeroshot.train import TrainConfig, make_optimizer


def test_tanh_bounds_every_compatibility() -> None:
    torch.manual_seed(0)
    clip = [FeatureSpec("clip", 4, 0)]
    model = TemporalAttentionZeroShot(
        ZeroShotConfig(label_dim=3, joint_dim=5, tanh=True), clip, ["a"]
    ).eval()
    for projection in [model.step_projections["clip"], model.label_projection]:
        assert isinstance(projection[-1], nn.Tanh)
    inputs = {"clip": 1000 * torch.randn(2, 7, 4)}
    masks = {"clip": torch.ones(2, 7, dtype=torch.bool)}
    parts = model.score_parts(inputs, masks, 1000 * torch.randn(6, 3))
    assert parts["s"].abs().max() <= 5.0  # |tanh . tanh| <= 1 per joint dimension
    plain = TemporalAttentionZeroShot(ZeroShotConfig(label_dim=3, joint_dim=5), clip, ["a"])
    assert not any(isinstance(m, nn.Tanh) for m in plain.modules())


def test_zero_rule_predicts_only_the_most_frequent_label() -> None:
    targets = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1]])
    paper = zero_rule(targets, ["a", "b", "c"])
    # only "a" predicted: micro F1 = 2*3/(4 + 5) ; macro F1 = (2*3/7) / 3
    assert paper["micro_f1"] == pytest.approx(6 / 9)
    assert paper["macro_f1"] == pytest.approx((6 / 7) / 3)
    every = zero_rule(targets, ["a", "b", "c"], every_label=True)
    assert every["micro_f1"] == pytest.approx(2 * 5 / (12 + 5))
    assert paper["per_label_ap"] == every["per_label_ap"] == {"a": 0.75, "b": 0.25, "c": 0.25}


def test_sgd_optimiser_and_the_dogan_preset() -> None:
    model = nn.Linear(2, 2)
    sgd = make_optimizer(model.parameters(), TrainConfig(optimizer="sgd", lr=0.01))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["lr"] == 0.01
    adamw = make_optimizer(model.parameters(), TrainConfig())
    assert isinstance(adamw, torch.optim.AdamW)
    with pytest.raises(ValueError, match="adamw"):
        make_optimizer(model.parameters(), TrainConfig(optimizer="adam!"))
    assert PRESETS["dogan2022"] == {
        "uniform": "sum",
        "lr": 0.01,
        "optimizer": "sgd",
        "tanh": True,
        "upper_bound": True,
    }
    assert set(PRESETS["dogan2022"]) == set(DEFAULTS)
