"""<CLS> attention of the transformer heads (`--explain`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, SMALL_CONFIGS, tiny_sequences, tiny_specs

from cinefeat.fuse.explain import ExplainError, attention_arrays
from cinefeat.fuse.heads.registry import build_head


@pytest.mark.parametrize("name", ["single-transformer", "multi-transformer"])
def test_attention_is_a_distribution_over_real_steps(name: str) -> None:
    torch.manual_seed(0)
    head = build_head(name, tiny_specs(), LABELS, SMALL_CONFIGS[name]).eval()
    sequences, _, _ = tiny_sequences(count=6, seed=1)
    weights = attention_arrays(head, sequences)
    assert set(weights) == {"clip", "audiotag"}
    for feature, per_trailer in weights.items():
        for rows, w in zip(sequences[feature], per_trailer, strict=True):
            assert w.shape == (len(rows),)
            # whole-trailer inference: every real step is seen, also those past max_len
            assert (w > 0).all()
    if name == "multi-transformer":
        # each branch's <CLS> spreads its attention over itself and the real steps: sum <= 1
        for per_trailer in weights.values():
            for w in per_trailer:
                assert w.sum() <= 1.0 + 1e-5
    else:
        # one softmax over <CLS>, two <SEP>s and all real steps of both features
        for i in range(6):
            total = weights["clip"][i].sum() + weights["audiotag"][i].sum()
            assert 0.0 < total <= 1.0 + 1e-5


def test_attention_follows_the_input() -> None:
    """Changing one step changes its weight: the numbers come from the forward pass."""
    torch.manual_seed(0)
    head = build_head("multi-transformer", tiny_specs(), LABELS, SMALL_CONFIGS["multi-transformer"])
    sequences, _, _ = tiny_sequences(count=1, seed=2)
    before = attention_arrays(head, sequences)["clip"][0].copy()
    sequences["clip"][0][0] += 25.0
    after = attention_arrays(head, sequences)["clip"][0]
    assert not np.allclose(before, after)


def test_heads_without_cls_are_refused() -> None:
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])
    sequences, _, _ = tiny_sequences(count=2)
    with pytest.raises(ExplainError, match="multi-transformer, single-transformer"):
        attention_arrays(head, sequences)


def test_an_ensemble_explains_with_the_mean_of_its_members() -> None:
    """`--ensemble K` heads predict the mean of K members; their attention is the mean too."""
    heads = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        name = "single-transformer"
        heads.append(build_head(name, tiny_specs(), LABELS, SMALL_CONFIGS[name]).eval())
    sequences, _, _ = tiny_sequences(count=3, seed=1)
    alone = [attention_arrays(head, sequences) for head in heads]
    heads[0].ensemble_members = [heads[1]]
    together = attention_arrays(heads[0], sequences)
    for feature, per_trailer in together.items():
        for i, w in enumerate(per_trailer):
            expected = (alone[0][feature][i] + alone[1][feature][i]) / 2
            np.testing.assert_allclose(w, expected, rtol=1e-5, atol=1e-7)
