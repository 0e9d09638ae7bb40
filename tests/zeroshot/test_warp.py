"""WARP hinge loss: known answers for the rank weights and the loss."""

from __future__ import annotations

import pytest
import torch

from cinefeat.fuse.zeroshot.warp import rank_weights, warp_loss


def test_rank_weights_are_harmonic_numbers() -> None:
    weights = rank_weights(torch.tensor([0, 1, 2, 3, 10]))
    expected = [0.0, 1.0, 1.5, 1 + 1 / 2 + 1 / 3, sum(1 / j for j in range(1, 11))]
    torch.testing.assert_close(weights, torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize(
    ("scores", "targets", "expected"),
    [
        # one violator (2.5 within the margin of 3): L(1)/1 * 0.5
        ([[3.0, 0.0, 2.5]], [[1, 0, 0]], 0.5),
        # two violators: L(2)/2 * (1.5 + 1.2) = 0.75 * 2.7
        ([[0.0, 0.5, 0.2]], [[1, 0, 0]], 0.75 * 2.7),
        # positives ranked above every negative by the margin: no loss
        ([[5.0, 4.0, 1.0]], [[1, 1, 0]], 0.0),
        # two positives, each beaten by the one negative: 2 * (L(1) * hinge)
        ([[0.0, 0.0, 1.0]], [[1, 1, 0]], 2.0 + 2.0),
        # no positive, or no negative: nothing to rank
        ([[1.0, 2.0]], [[0, 0]], 0.0),
        ([[1.0, 2.0]], [[1, 1]], 0.0),
    ],
    ids=["one-violator", "two-violators", "ranked", "two-positives", "no-pos", "no-neg"],
)
def test_warp_known_answers(scores: list, targets: list, expected: float) -> None:
    loss = warp_loss(torch.tensor(scores), torch.tensor(targets, dtype=torch.float32))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_warp_is_a_batch_mean_and_pushes_positives_up() -> None:
    scores = torch.tensor([[0.0, 0.5, 0.2], [3.0, 0.0, 2.5]], requires_grad=True)
    targets = torch.tensor([[1.0, 0, 0], [1.0, 0, 0]])
    loss = warp_loss(scores, targets)
    assert loss.item() == pytest.approx((0.75 * 2.7 + 0.5) / 2, abs=1e-6)
    loss.backward()
    assert scores.grad[0, 0] < 0 and scores.grad[0, 1] > 0  # descent raises the positive


def test_warp_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="must both be"):
        warp_loss(torch.zeros(2, 3), torch.zeros(2, 4))
