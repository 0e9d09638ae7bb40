"""`gmu`: gated multimodal unit (Arevalo Ovalle et al. 2017, the MM-IMDb paper).

Each modality i gives h_i = tanh(W_i x_i); a gate z_i = sigmoid(W_zi [x_1, ..., x_n]) computed
from all modalities decides how much each contributes: h = sum_i z_i * h_i. The paper's unit is
bimodal with z and 1 - z; with n features we keep one sigmoid gate per modality. Missing features
(no real steps) contribute nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, masked_mean, present
from cinefeat.fuse.heads.registry import register_head


@dataclass
class GMUConfig(HeadConfig):
    d_model: int = 768
    dropout: float = 0.5


@register_head
class GMUHead(Head):
    name = "gmu"
    config_class = GMUConfig

    def __init__(self, config: GMUConfig, features: list[FeatureSpec], label_names: list[str]):
        super().__init__(config, features, label_names)
        d = config.d_model
        self.transforms = nn.ModuleDict({f.name: nn.Linear(f.dim, d) for f in features})
        total = sum(f.dim for f in features)
        self.gates = nn.Linear(total, d * len(features))
        self.embed_dim = d
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(d, self.num_labels))

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        names = self.feature_names
        pooled = [masked_mean(inputs[n], masks[n]) for n in names]
        hidden = torch.stack(
            [torch.tanh(self.transforms[n](pooled[i])) for i, n in enumerate(names)], 1
        )
        gates = torch.sigmoid(self.gates(torch.cat(pooled, dim=-1))).view_as(hidden)
        available = torch.stack([present(masks[n]) for n in names], dim=1).unsqueeze(-1)
        return (gates * hidden * available.to(hidden.dtype)).sum(dim=1)
