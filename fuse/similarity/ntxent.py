"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020).

Fish et al. fine-tune a genre head's trailer embedding with it so that nearby trailers share more
than a genre: two views of the same trailer must find each other among every other trailer of the
batch. With 2B views, view i's positive is its twin; the other 2B - 2 views are negatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nt_xent(first: Tensor, second: Tensor, temperature: float = 0.5) -> Tensor:
    """Mean NT-Xent over the 2B views; first[i] and second[i] are the positive pair (B, D) each."""
    if first.shape != second.shape or first.ndim != 2:
        raise ValueError(
            f"views {tuple(first.shape)} and {tuple(second.shape)} must both be (B, D)"
        )
    if len(first) < 2:
        raise ValueError("NT-Xent needs a batch of at least 2 trailers (the others are negatives)")
    views = F.normalize(torch.cat([first, second]).float(), dim=1)
    similarity = views @ views.T / temperature
    similarity.fill_diagonal_(float("-inf"))  # a view is not its own negative
    batch = len(first)
    twins = torch.cat([torch.arange(batch, 2 * batch), torch.arange(batch)]).to(first.device)
    return F.cross_entropy(similarity, twins)
