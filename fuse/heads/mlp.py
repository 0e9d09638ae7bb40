"""`mlp`: masked temporal mean of each feature, concatenated, then an MLP.

Sulun et al. §3.2.1 (and the MovieNet baseline style): the cheapest head and the baseline every
sequence head must beat. Defaults: 1 hidden layer of 256, dropout 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, masked_mean
from cinefeat.fuse.heads.registry import register_head


@dataclass
class MLPConfig(HeadConfig):
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.5


@register_head
class MLPHead(Head):
    name = "mlp"
    config_class = MLPConfig

    def __init__(self, config: MLPConfig, features: list[FeatureSpec], label_names: list[str]):
        super().__init__(config, features, label_names)
        size = sum(f.dim for f in features)
        blocks: list[nn.Module] = [nn.Dropout(config.dropout)] if config.layers == 0 else []
        for _ in range(config.layers):
            blocks += [nn.Linear(size, config.hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            size = config.hidden
        self.body = nn.Sequential(*blocks)
        self.embed_dim = size
        self.classifier = nn.Linear(size, self.num_labels)

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        pooled = [masked_mean(inputs[f.name], masks[f.name]) for f in self.features]
        return self.body(torch.cat(pooled, dim=-1))
