"""`gated`: collaborative gating over per-feature experts (Fish et al., MMX-Trailer-20).

The collaborative-experts design: each feature (expert) is pooled and projected to d; expert i is
gated by what the *other available* experts say about it (a relation MLP g over each pair
[e_i, e_j], summed over j, then an MLP h and a sigmoid), then passes a gated embedding unit
(Linear, context gating, L2 norm). A trailer without, say, speech simply has no `asr` expert:
its slot is zero and it takes no part in anyone's gate, which is what makes the head robust to
missing features. Default: d=768 per expert.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, masked_mean, present
from cinefeat.fuse.heads.registry import register_head


@dataclass
class GatedConfig(HeadConfig):
    d_model: int = 768
    hidden: int = 512
    dropout: float = 0.5


class GatedEmbeddingUnit(nn.Module):
    """Linear, then x * sigmoid(W x) (context gating), then L2 normalisation."""

    def __init__(self, d_model: int):
        super().__init__()
        self.linear = nn.Linear(d_model, d_model)
        self.gate = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        x = self.linear(x)
        return F.normalize(x * torch.sigmoid(self.gate(x)), dim=-1)


@register_head
class GatedHead(Head):
    name = "gated"
    config_class = GatedConfig

    def __init__(self, config: GatedConfig, features: list[FeatureSpec], label_names: list[str]):
        super().__init__(config, features, label_names)
        d = config.d_model
        self.experts = nn.ModuleDict({f.name: nn.Linear(f.dim, d) for f in features})
        self.relation = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, d))
        self.attention = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        self.units = nn.ModuleDict({f.name: GatedEmbeddingUnit(d) for f in features})
        self.embed_dim = d * len(features)
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(self.embed_dim, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, self.num_labels),
        )

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        names = self.feature_names
        experts = torch.stack(
            [self.experts[n](masked_mean(inputs[n], masks[n])) for n in names], dim=1
        )  # (B, E, d)
        available = torch.stack([present(masks[n]) for n in names], dim=1)  # (B, E)
        count = len(names)
        left = experts.unsqueeze(2).expand(-1, -1, count, -1)
        right = experts.unsqueeze(1).expand(-1, count, -1, -1)
        relations = self.relation(torch.cat([left, right], dim=-1))  # (B, E, E, d)
        others = available.unsqueeze(1) & ~torch.eye(count, dtype=torch.bool, device=experts.device)
        summed = (relations * others.unsqueeze(-1).to(relations.dtype)).sum(dim=2)
        gated = experts * torch.sigmoid(self.attention(summed))
        units = torch.stack([self.units[n](gated[:, i]) for i, n in enumerate(names)], dim=1)
        units = units * available.unsqueeze(-1).to(units.dtype)
        return units.flatten(1)
