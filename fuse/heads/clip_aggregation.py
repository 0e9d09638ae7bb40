"""`clip-aggregation`: DIViTA's clip-level transformer.

BatchNorm over channels (statistics from real steps only), Linear to 128, one transformer block
(4 heads), masked mean over clips, Linear. Trained on one random window of 30 consecutive clips
per trailer (cheap, and a form of augmentation); evaluated by averaging the probabilities of all
windows of the trailer. Trailers shorter than a window are used whole (never a crash). No
positional encoding, so the same block runs on a window and on a whole trailer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, zero_padding
from cinefeat.fuse.heads.encoders import encode, transformer
from cinefeat.fuse.heads.registry import register_head


@dataclass
class ClipAggregationConfig(HeadConfig):
    d_model: int = 128
    heads: int = 4
    layers: int = 1
    window: int = 30
    ff_mult: int = 4
    aligned_windows: bool = False
    dropout: float = 0.5


def masked_batch_norm(norm: nn.BatchNorm1d, values: Tensor, mask: Tensor) -> Tensor:
    """BatchNorm over the real steps only, so padding never moves the batch statistics."""
    real = values[mask]
    use_batch = norm.training and real.shape[0] > 1
    normed = F.batch_norm(
        real,
        norm.running_mean,
        norm.running_var,
        norm.weight,
        norm.bias,
        training=use_batch,
        momentum=norm.momentum if norm.momentum is not None else 0.1,
        eps=norm.eps,
    )
    out = torch.zeros_like(values)
    out[mask] = normed.to(out.dtype)
    return out


def take_window(values: Tensor, mask: Tensor, starts: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Steps `starts[b] .. starts[b] + size` of each row (clamped to the padded length)."""
    length = values.shape[1]
    size = min(size, length)
    offsets = torch.arange(size, device=values.device)
    index = (starts.unsqueeze(1) + offsets).clamp(max=max(length - 1, 0))
    inside = (starts.unsqueeze(1) + offsets) < length
    window = values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))
    return window, mask.gather(1, index) & inside


@register_head
class ClipAggregationHead(Head):
    name = "clip-aggregation"
    config_class = ClipAggregationConfig

    def __init__(
        self, config: ClipAggregationConfig, features: list[FeatureSpec], label_names: list[str]
    ):
        super().__init__(config, features, label_names)
        d = config.d_model
        self.norms = nn.ModuleDict({f.name: nn.BatchNorm1d(f.dim) for f in features})
        self.project = nn.ModuleDict({f.name: nn.Linear(f.dim, d) for f in features})
        self.encoder = transformer(d, config.heads, config.layers, config.dropout, config.ff_mult)
        self.embed_dim = d
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(d, self.num_labels))

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        tokens, real = [], []
        for spec in self.features:
            values, mask = zero_padding(inputs[spec.name], masks[spec.name]), masks[spec.name]
            normed = masked_batch_norm(self.norms[spec.name], values, mask)
            tokens.append(self.project[spec.name](normed))
            real.append(mask)
        sequence, real_steps = torch.cat(tokens, dim=1), torch.cat(real, dim=1).clone()
        real_steps[:, 0] |= ~real_steps.any(dim=1)
        encoded = encode(self.encoder, sequence, real_steps)
        weights = real_steps.unsqueeze(-1).to(encoded.dtype)
        return (encoded * weights).sum(dim=1) / weights.sum(dim=1)

    def training_view(
        self, inputs: dict[str, Tensor], masks: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        size = self.config.window
        views, view_masks = {}, {}
        shared = self._aligned_starts(masks, generator) if self.config.aligned_windows else None
        for name, values in inputs.items():
            lengths = masks[name].sum(dim=1).cpu()
            room = (lengths - size).clamp(min=0) + 1
            starts = (torch.rand(len(lengths), generator=generator) * room).long()
            if shared is not None:
                starts = torch.minimum(shared, room - 1)
            views[name], view_masks[name] = take_window(
                values, masks[name], starts.to(values.device), size
            )
        return views, view_masks

    def _aligned_starts(self, masks: dict[str, Tensor], generator: torch.Generator) -> Tensor:
        """One window start per trailer for every feature, so a window covers the same clips in
        each (DIViTA's features all come from the same clips); drawn within the shortest present
        feature, so the window lies inside every feature that has rows."""
        lengths = torch.stack([masks[n].sum(dim=1).cpu() for n in self.feature_names], dim=1)
        big = torch.iinfo(lengths.dtype).max
        shortest = torch.where(lengths > 0, lengths, big).min(dim=1).values
        shortest = torch.where(shortest == big, 0, shortest)
        room = (shortest - self.config.window).clamp(min=0) + 1
        return (torch.rand(len(room), generator=generator) * room).long()

    def predict_proba(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        size = self.config.window
        lengths = {name: masks[name].sum(dim=1) for name in self.feature_names}
        longest = torch.stack(list(lengths.values()), dim=1).max(dim=1).values
        windows = max(1, math.ceil(int(longest.max().item()) / size))
        total = torch.zeros(longest.shape[0], self.num_labels, device=longest.device)
        counted = torch.zeros(longest.shape[0], 1, device=longest.device)
        for k in range(windows):
            views, view_masks = {}, {}
            for name in self.feature_names:
                last_start = (lengths[name] - size).clamp(min=0)
                starts = torch.minimum(torch.full_like(last_start, k * size), last_start)
                views[name], view_masks[name] = take_window(inputs[name], masks[name], starts, size)
            valid = ((k * size < longest) | (k == 0)).unsqueeze(1).float()
            total += torch.sigmoid(self(views, view_masks).float()) * valid
            counted += valid
        return total / counted
