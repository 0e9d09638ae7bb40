"""Weighted approximate-rank pairwise (WARP) hinge loss, as used by Dogan et al.

Multi-label zero-shot training cares about the *ranking* of labels for a trailer more than about
calibrated probabilities (the threshold M is chosen afterwards on validation labels). WARP puts a
positive label above every negative one by a margin, and weighs a positive by how badly it ranks:
a positive beaten by r negatives costs L(r) = sum_{j=1..r} 1/j, spread over those r violations.

With the few dozen labels of a trailer dataset every violation can be counted exactly, so no
sampling is needed (Weston et al. sample negatives only because they had millions of labels):

    loss(x) = sum_{p in P} L(r_p) / r_p * sum_{n in N} max(0, margin - p_p + p_n),
    r_p = #{n in N : margin - p_p + p_n > 0}.
"""

from __future__ import annotations

import torch
from torch import Tensor


def rank_weights(ranks: Tensor) -> Tensor:
    """L(r) = sum_{j=1..r} 1/j (the harmonic number H_r; H_0 = 0), elementwise."""
    ranks = ranks.to(torch.float64)
    # H_r = digamma(r + 1) + Euler-Mascheroni constant, exact for integers r >= 0.
    return (torch.special.digamma(ranks + 1.0) + 0.5772156649015329).clamp_min(0.0)


def warp_loss(scores: Tensor, targets: Tensor, margin: float = 1.0) -> Tensor:
    """Mean WARP hinge loss over the batch.

    scores (B, C) fused label scores, targets (B, C) multi-hot (0/1). Trailers without a positive
    or without a negative label contribute zero (no pair to rank) but still count in the mean, so
    the loss scale does not depend on how many such trailers a batch happens to hold.
    """
    if scores.shape != targets.shape or scores.ndim != 2:
        raise ValueError(
            f"scores {tuple(scores.shape)} and targets {tuple(targets.shape)} must both be (B, C)"
        )
    positive = targets > 0.5
    negative = ~positive
    # hinge[b, p, n] = max(0, margin - s_p + s_n) for a positive p and a negative n
    hinge = (margin - scores.unsqueeze(2) + scores.unsqueeze(1)).clamp_min(0.0)
    pair = positive.unsqueeze(2) & negative.unsqueeze(1)
    hinge = torch.where(pair, hinge, 0.0)
    with torch.no_grad():
        ranks = ((hinge > 0) & pair).sum(dim=2)  # (B, C): violations per positive label
        weights = torch.where(ranks > 0, rank_weights(ranks) / ranks.clamp_min(1), 0.0).to(
            scores.dtype
        )
    per_trailer = (weights * hinge.sum(dim=2)).sum(dim=1)
    return per_trailer.mean()
