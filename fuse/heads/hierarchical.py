"""`hierarchical`: the second-level transformer of Cai et al. (hierarchical trailer model).

Neighbouring vectors that say the same thing (cosine similarity > t, default 0.6) are merged by
max-pooling first ("feature compression"), which shortens long, repetitive sequences; then a
Linear to 160, fixed sinusoidal positions, 6 encoder layers (8 heads, feed-forward 4d), a masked
mean over time and a Linear. Several features are compressed and projected separately and then
concatenated in time. Their HT-FA combines two such heads by late fusion (`late_fusion.py`).

Whole-trailer inference by windows: a trailer longer than a feature's `max_len` is scored on
consecutive windows of `max_len` rows (window k of every feature starts at row k * max_len,
the last one ending at the trailer's end) and the probabilities are averaged, so every row counts
and attention never spans more steps than in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cinefeat.fuse.heads.base import (
    FeatureSpec,
    Head,
    HeadConfig,
    HeadConfigError,
    zero_padding,
)
from cinefeat.fuse.heads.encoders import encode, sinusoidal_positions, transformer
from cinefeat.fuse.heads.registry import register_head


@dataclass
class HierarchicalConfig(HeadConfig):
    d_model: int = 160
    heads: int = 8
    layers: int = 6
    ff_mult: int = 4
    merge_threshold: float = 0.6
    compression: str = "neighbour"
    dropout: float = 0.1


COMPRESSIONS = ("neighbour", "running")


def compress(values: Tensor, mask: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """Merge runs of neighbouring real steps with cosine similarity > threshold by max-pooling.

    Returns left-aligned groups `(B, G, d)` and their mask; a padding step always ends a run, so
    padded values never enter a group.
    """
    batch, length, dim = values.shape
    if length == 0:
        return values, mask
    clean = zero_padding(values, mask)
    similar = F.cosine_similarity(clean[:, 1:], clean[:, :-1], dim=-1) > threshold
    if threshold >= 1.0:  # identical frames reach 1 + 1e-7 by rounding: t = 1 merges nothing
        similar = torch.zeros_like(similar)
    continues = torch.zeros_like(mask)
    continues[:, 1:] = similar & mask[:, :-1]
    starts = mask & ~continues
    group = starts.long().cumsum(dim=1) - 1
    groups = int(starts.sum(dim=1).max().item()) if mask.any() else 0
    index = torch.where(mask, group, torch.full_like(group, length))  # padding -> dump slot
    pooled = torch.full(
        (batch, length + 1, dim), float("-inf"), dtype=values.dtype, device=values.device
    )
    pooled = pooled.scatter_reduce(
        1, index.unsqueeze(-1).expand(-1, -1, dim), clean, reduce="amax", include_self=True
    )
    new_mask = torch.arange(length, device=mask.device) < starts.sum(dim=1, keepdim=True)
    new_mask = new_mask[:, : max(groups, 1)]
    pooled = zero_padding(pooled[:, : max(groups, 1)], new_mask)
    return pooled, new_mask


def compress_running(values: Tensor, mask: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """Cai et al.'s compression: step t joins the current group when its cosine similarity with
    the group's merged (max-pooled so far) vector exceeds `threshold`, else it starts a group.

    Comparing with the merged vector, not the neighbour, stops a slow drift (a pan) from being
    chained into one group; same output layout as `compress`. A loop over time, vectorised over
    the batch (compression runs on the inputs, before any trainable layer).
    """
    batch, length, dim = values.shape
    if length == 0:
        return values, mask
    clean = zero_padding(values, mask)
    rows = torch.arange(batch, device=values.device)
    out = torch.zeros(batch, length, dim, dtype=values.dtype, device=values.device)
    merged = clean[:, 0]
    count = mask[:, 0].long()
    out[:, 0] = merged
    for t in range(1, length):
        step, real = clean[:, t], mask[:, t]
        similar = F.cosine_similarity(step, merged, dim=-1) > threshold
        if threshold >= 1.0:
            similar = torch.zeros_like(similar)
        join = real & mask[:, t - 1] & similar
        start = real & ~join
        merged = torch.where(
            join.unsqueeze(-1),
            torch.maximum(merged, step),
            torch.where(start.unsqueeze(-1), step, merged),
        )
        count = count + start.long()
        slot = (count - 1).clamp(min=0)
        out[rows[real], slot[real]] = merged[real]
    groups = max(int(count.max().item()), 1)
    new_mask = torch.arange(groups, device=mask.device) < count.unsqueeze(1)
    return zero_padding(out[:, :groups], new_mask), new_mask


@register_head
class HierarchicalHead(Head):
    name = "hierarchical"
    config_class = HierarchicalConfig

    def __init__(
        self, config: HierarchicalConfig, features: list[FeatureSpec], label_names: list[str]
    ):
        super().__init__(config, features, label_names)
        if config.compression not in COMPRESSIONS:
            raise HeadConfigError(
                f"compression must be one of {COMPRESSIONS}, not {config.compression!r}"
            )
        self.compress = compress_running if config.compression == "running" else compress
        d = config.d_model
        self.project = nn.ModuleDict({f.name: nn.Linear(f.dim, d) for f in features})
        self.encoder = transformer(d, config.heads, config.layers, config.dropout, config.ff_mult)
        self.embed_dim = d
        self.classifier = nn.Linear(d, self.num_labels)

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        tokens, real = [], []
        for spec in self.features:
            values, mask = self.compress(
                inputs[spec.name], masks[spec.name], self.config.merge_threshold
            )
            projected = self.project[spec.name](values)
            table = sinusoidal_positions(values.shape[1], projected.shape[-1], values.device)
            tokens.append(projected + table.to(projected.dtype))
            real.append(mask)
        sequence, real_steps = torch.cat(tokens, dim=1), torch.cat(real, dim=1)
        # A trailer with no real step at all attends to one zero token instead of producing NaN.
        real_steps = real_steps.clone()
        real_steps[:, 0] |= ~real_steps.any(dim=1)
        encoded = encode(self.encoder, sequence, real_steps)
        weights = real_steps.unsqueeze(-1).to(encoded.dtype)
        return (encoded * weights).sum(dim=1) / weights.sum(dim=1)

    def predict_proba(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        lengths = {f.name: masks[f.name].sum(dim=1) for f in self.features}
        sizes = {f.name: max(1, f.max_len) for f in self.features}
        windows = max(
            math.ceil(int(lengths[n].max().item()) / sizes[n]) if len(lengths[n]) else 1
            for n in sizes
        )
        if windows <= 1 and all(masks[n].shape[1] <= sizes[n] for n in sizes):
            return super().predict_proba(inputs, masks)
        batch = masks[self.features[0].name].shape[0]
        device = masks[self.features[0].name].device
        total = torch.zeros(batch, self.num_labels, device=device)
        counted = torch.zeros(batch, 1, device=device)
        # window k counts for a trailer when some feature still has rows at k * max_len
        needed = (
            torch.stack([(lengths[n] + sizes[n] - 1) // sizes[n] for n in sizes], dim=1)
            .amax(dim=1)
            .clamp(min=1)
        )
        for k in range(max(windows, 1)):
            views, view_masks = {}, {}
            for name, size in sizes.items():
                last = (lengths[name] - size).clamp(min=0)
                starts = torch.minimum(torch.full_like(last, k * size), last)
                index = starts.unsqueeze(1) + torch.arange(size, device=device)
                inside = index < masks[name].shape[1]
                index = index.clamp(max=max(masks[name].shape[1] - 1, 0))
                values = inputs[name]
                views[name] = values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))
                view_masks[name] = masks[name].gather(1, index) & inside
            valid = (k < needed).unsqueeze(1).float()
            total += torch.sigmoid(self(views, view_masks).float()) * valid
            counted += valid
        return total / counted
