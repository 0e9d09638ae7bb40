"""Building blocks shared by the transformer heads: a masked encoder with a <CLS> token.

PyTorch's `src_key_padding_mask` is True for *padding*; our masks are True for *real* steps, so the
conversion happens here, once.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import HeadConfigError, zero_padding

LONG_SEQUENCES = ("error", "equidistant")
PADDINGS = ("mask", "zeros")
"""How a head reads a trailer shorter than `max_len`: `mask` (padding is masked, the cinefeat
default) or `zeros` (Sulun et al.'s loader: see `fixed_length`)."""


def transformer(
    d_model: int,
    heads: int,
    layers: int,
    dropout: float,
    ff_mult: int = 4,
    final_norm: bool = False,
) -> nn.Module:
    """`final_norm` adds the LayerNorm after the last layer that Sulun et al.'s encoder has."""
    layer = nn.TransformerEncoderLayer(
        d_model, heads, dim_feedforward=ff_mult * d_model, dropout=dropout, batch_first=True
    )
    norm = nn.LayerNorm(d_model) if final_norm else None
    # No nested-tensor fast path: it returns different shapes for padded steps under eval.
    return nn.TransformerEncoder(layer, layers, norm=norm, enable_nested_tensor=False)


def check_long_sequences(value: str) -> None:
    if value not in LONG_SEQUENCES:
        raise HeadConfigError(f"long_sequences must be one of {LONG_SEQUENCES}, not {value!r}")


def check_padding(value: str) -> None:
    if value not in PADDINGS:
        raise HeadConfigError(f"padding must be one of {PADDINGS}, not {value!r}")


def fixed_length(values: Tensor, mask: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """Every row brought to exactly `length` steps, all of them real, as Sulun et al.'s loader.

    Their `dataset.py` (and `inference.py`) subsamples a longer feature equidistantly, pads a
    shorter one with zero rows and replaces a missing one by `length` zero rows, after
    normalising; no mask reaches their models, so the zero rows are averaged (MLP) and attended
    (transformers) like real ones. A head imported from their checkpoints needs the same view to
    give their predictions (`padding="zeros"`).
    """
    values, mask = equidistant(values, mask, length)
    values = zero_padding(values, mask)[:, :length]
    short = length - values.shape[1]
    if short > 0:
        values = torch.nn.functional.pad(values, (0, 0, 0, short))
    return values, torch.ones(values.shape[:2], dtype=torch.bool, device=values.device)


def equidistant(values: Tensor, mask: Tensor, cap: int) -> tuple[Tensor, Tensor]:
    """Rows longer than `cap` real steps keep `cap` of them at round(linspace(0, n - 1, cap)).

    This is Sulun et al.'s subsampling (serkansulun/movie-genre-classification, utils.py
    `equidistant_indices`, used for every split in classification/src/dataset.py), so a long
    trailer is seen from start to end instead of by its first `cap` rows. Real rows are assumed
    left-aligned (the data loader pads at the end); shorter rows are kept as they are.
    """
    length = values.shape[1]
    if length <= cap:
        return values, mask
    real = mask.sum(dim=1, keepdim=True).to(torch.float64)  # (B, 1)
    steps = torch.arange(cap, device=values.device, dtype=torch.float64).unsqueeze(0)
    spacing = (real - 1).clamp(min=0) / max(cap - 1, 1)
    long = real > cap
    index = torch.where(long, torch.round(steps * spacing), steps).long().clamp(max=length - 1)
    kept = torch.where(long, torch.ones_like(steps, dtype=torch.bool), steps < real)
    picked = values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))
    return picked, mask.gather(1, index) & kept


def encode(encoder: nn.Module, tokens: Tensor, real: Tensor) -> Tensor:
    """Run `encoder` on (B, T, d) tokens where `real` (B, T) is True for non-padding tokens."""
    return encoder(tokens, src_key_padding_mask=~real)


class ClsSequenceEncoder(nn.Module):
    """Linear to d, learned positions, a <CLS> token, a TransformerEncoder; returns the CLS output.

    The CLS token is always real, so even a trailer with zero steps of this feature gets a defined
    (learned) output instead of NaN from attending over nothing.
    """

    def __init__(
        self,
        in_dim: int,
        max_len: int,
        d_model: int,
        heads: int,
        layers: int,
        dropout: float,
        final_norm: bool = False,
        long_sequences: str = "error",
        padding: str = "mask",
    ):
        super().__init__()
        check_long_sequences(long_sequences)
        check_padding(padding)
        self.long_sequences = long_sequences
        self.padding = padding
        self.project = nn.Linear(in_dim, d_model)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.positions = nn.Parameter(torch.randn(1, max_len, d_model) * 0.02)
        self.encoder = transformer(d_model, heads, layers, dropout, final_norm=final_norm)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        return self.sequence(values, mask)[:, 0]

    def sequence(self, values: Tensor, mask: Tensor) -> Tensor:
        """All outputs (B, 1 + L, d), CLS first."""
        if self.padding == "zeros":  # Sulun's loader: exactly max_len steps, all real
            values, mask = fixed_length(values, mask, self.positions.shape[1])
        elif self.long_sequences == "equidistant":  # Sulun's subsampling, else whole-trailer
            values, mask = equidistant(values, mask, self.positions.shape[1])
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
