"""Building blocks shared by the transformer heads: a masked encoder with a <CLS> token.

PyTorch's `src_key_padding_mask` is True for *padding*; our masks are True for *real* steps, so the
conversion happens here, once.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import zero_padding


def transformer(
    d_model: int, heads: int, layers: int, dropout: float, ff_mult: int = 4
) -> nn.Module:
    layer = nn.TransformerEncoderLayer(
        d_model, heads, dim_feedforward=ff_mult * d_model, dropout=dropout, batch_first=True
    )
    # No nested-tensor fast path: it returns different shapes for padded steps under eval.
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def encode(encoder: nn.Module, tokens: Tensor, real: Tensor) -> Tensor:
    """Run `encoder` on (B, T, d) tokens where `real` (B, T) is True for non-padding tokens."""
    return encoder(tokens, src_key_padding_mask=~real)


class ClsSequenceEncoder(nn.Module):
    """Linear to d, learned positions, a <CLS> token, a TransformerEncoder; returns the CLS output.

    The CLS token is always real, so even a trailer with zero steps of this feature gets a defined
    (learned) output instead of NaN from attending over nothing.
    """

    def __init__(
        self, in_dim: int, max_len: int, d_model: int, heads: int, layers: int, dropout: float
    ):
        super().__init__()
        self.project = nn.Linear(in_dim, d_model)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.positions = nn.Parameter(torch.randn(1, max_len, d_model) * 0.02)
        self.encoder = transformer(d_model, heads, layers, dropout)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        return self.sequence(values, mask)[:, 0]

    def sequence(self, values: Tensor, mask: Tensor) -> Tensor:
        """All outputs (B, 1 + L, d), CLS first."""
        batch = values.shape[0]
        tokens = self.project(zero_padding(values, mask)) + learned_positions(self.positions, mask)
        tokens = torch.cat([self.cls.expand(batch, -1, -1), tokens], dim=1)
        real = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        return encode(self.encoder, tokens, real)


def learned_positions(table: Tensor, mask: Tensor) -> Tensor:
    """Positions (B, L, d) from a learned (1, max_len, d) table, each trailer by its own length.

    Training crops every sequence to `max_len` rows (`cinefeat.fuse.data.CROPS`), so only
    evaluation meets longer ones. Sulun et al. infer on the whole trailer ("our models can handle
    inputs with varying lengths without the need for padding or truncating"), so a trailer of
    n > max_len real rows reads the table linearly interpolated to n rows (first and last
    positions kept, as `align_corners=True`) instead of being cut. A trailer that fits reads the
    table unchanged, as in training, whatever the length of the others in its batch.
    """
    size, length = table.shape[1], mask.shape[1]
    lengths = mask.sum(dim=1).to(torch.float32)
    scale = torch.where(
        lengths > size, (size - 1) / (lengths - 1).clamp(min=1), torch.ones_like(lengths)
    )
    steps = torch.arange(length, device=mask.device, dtype=torch.float32)
    where = (steps.unsqueeze(0) * scale.unsqueeze(1)).clamp(max=size - 1)
    low = where.floor().long()
    high = (low + 1).clamp(max=size - 1)
    weight = (where - low.to(where.dtype)).unsqueeze(-1).to(table.dtype)
    rows = table[0]
    return rows[low] * (1 - weight) + rows[high] * weight


def sinusoidal_positions(length: int, d_model: int, device: torch.device) -> Tensor:
    """The fixed sine/cosine positions of Vaswani et al. (used by the hierarchical head)."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    scale = torch.exp(
        torch.arange(0, d_model, 2, device=device, dtype=torch.float32)
        * (-math.log(10000.0) / d_model)
    )
    table = torch.zeros(length, d_model, device=device)
    table[:, 0::2] = torch.sin(position * scale)
    table[:, 1::2] = torch.cos(position * scale[: d_model // 2])
    return table
