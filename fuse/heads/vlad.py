"""NetVLAD pooling (Arandjelović et al., *NetVLAD*, CVPR 2016), the learnable pooling Miech et
al.'s and Fish et al.'s expert models put in front of their gating (issue 19).

A sequence `(B, L, d)` becomes `K` cluster residuals: each real step is softly assigned to the
clusters (`softmax` over a Linear of the step, so a step's assignments sum to 1), and cluster k
keeps `sum_t a_k(x_t) (x_t - c_k)`. Each residual is L2-normalised (intra-normalisation), then
the whole `K * d` vector is. Padded steps get no assignment, so the result does not depend on how
much padding a batch adds, and, being a sum over steps, not on their order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

POOLINGS = ("mean", "netvlad")


class NetVLAD(nn.Module):
    """`(B, L, d)` + mask `(B, L)` -> `(B, clusters * d)`; `out_dim` says how wide."""

    def __init__(self, dim: int, clusters: int = 8):
        super().__init__()
        if clusters < 1:
            raise ValueError(f"NetVLAD needs at least one cluster, not {clusters}")
        self.dim, self.clusters = dim, clusters
        self.assign = nn.Linear(dim, clusters)
        self.centroids = nn.Parameter(torch.randn(clusters, dim) * dim**-0.5)

    @property
    def out_dim(self) -> int:
        return self.dim * self.clusters

    def assignments(self, values: Tensor, mask: Tensor) -> Tensor:
        """Soft assignment `(B, L, K)`: each real step's row sums to 1, padded steps are 0."""
        values = torch.where(mask.unsqueeze(-1), values, torch.zeros((), dtype=values.dtype))
        soft = torch.softmax(self.assign(values), dim=-1)
        return soft * mask.unsqueeze(-1).to(soft.dtype)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        soft = self.assignments(values, mask)  # (B, L, K)
        values = torch.where(mask.unsqueeze(-1), values, torch.zeros((), dtype=values.dtype))
        weighted = torch.einsum("blk,bld->bkd", soft, values)  # sum_t a_k x_t
        residual = weighted - soft.sum(dim=1).unsqueeze(-1) * self.centroids  # - (sum_t a_k) c_k
        residual = F.normalize(residual, dim=-1)  # intra-normalisation (a zero row stays zero)
        return F.normalize(residual.flatten(1), dim=-1)


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        from cinefeat.fuse.heads.base import HeadConfigError

        raise HeadConfigError(f"pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
