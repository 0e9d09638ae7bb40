"""Two views of a trailer for contrastive training: the first and second half of its sequences.

Fish et al. take the two halves of the same trailer as a positive pair: what stays constant across
a trailer (its look, its sound, its kind of story) is what the embedding should keep. Each half is
re-packed to start at step 0, so a head sees it exactly as it would see a short trailer.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _half(values: Tensor, mask: Tensor, second: bool) -> tuple[Tensor, Tensor]:
    """Steps [0, n//2) or [n//2, n) of each row, re-packed from step 0 (n = real steps)."""
    lengths = mask.sum(dim=1)
    half = lengths // 2
    if second:
        start, size = half, lengths - half
    else:
        start, size = torch.zeros_like(lengths), half
    single = lengths == 1  # a 1-step sequence has that step in both halves
    start, size = torch.where(single, 0, start), torch.where(single, 1, size)
    width = max(int(size.max().item()) if len(size) else 0, 1)
    offsets = torch.arange(width, device=values.device)
    index = (start.unsqueeze(1) + offsets).clamp(max=max(values.shape[1] - 1, 0))
    new_mask = offsets.unsqueeze(0) < size.unsqueeze(1)
    gathered = values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))
    gathered = torch.where(new_mask.unsqueeze(-1), gathered, torch.zeros((), dtype=values.dtype))
    return gathered, new_mask


def split_halves(
    inputs: dict[str, Tensor], masks: dict[str, Tensor]
) -> tuple[
    tuple[dict[str, Tensor], dict[str, Tensor]], tuple[dict[str, Tensor], dict[str, Tensor]]
]:
    """((first inputs, first masks), (second inputs, second masks)) for every feature.

    Assumes left-aligned padding (real steps first), which is what the store's collate produces.
    An odd step goes to the second half. A feature averaged to one vector is in both views.
    """
    first_in, first_mask, second_in, second_mask = {}, {}, {}, {}
    for feature, values in inputs.items():
        mask = masks[feature].bool()
        first_in[feature], first_mask[feature] = _half(values, mask, second=False)
        second_in[feature], second_mask[feature] = _half(values, mask, second=True)
    return (first_in, first_mask), (second_in, second_mask)
