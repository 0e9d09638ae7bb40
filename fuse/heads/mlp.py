"""`mlp`: masked temporal mean of each feature, concatenated, then an MLP.

Sulun et al. §3.2.1 (and the MovieNet baseline style): the cheapest head and the baseline every
sequence head must beat. Defaults: 1 hidden layer of 256, dropout 0.5. `pooling="netvlad"`
pools each feature with NetVLAD (`cinefeat.fuse.heads.vlad`) instead of the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, masked_mean
from cinefeat.fuse.heads.encoders import check_padding, fixed_length
from cinefeat.fuse.heads.registry import register_head
from cinefeat.fuse.heads.vlad import NetVLAD, check_pooling


@dataclass
class MLPConfig(HeadConfig):
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.5
    pooling: str = "mean"  # POOLINGS of vlad.py
    clusters: int = 8  # pooling=netvlad: clusters per feature
    # PADDINGS of encoders.py: "zeros" averages each feature over exactly max_len rows,
    # zero rows included, as the MLP imported from Sulun et al.'s checkpoints was trained
    padding: str = "mask"


@register_head
class MLPHead(Head):
    name = "mlp"
    config_class = MLPConfig

    def __init__(self, config: MLPConfig, features: list[FeatureSpec], label_names: list[str]):
        super().__init__(config, features, label_names)
        check_pooling(config.pooling)
        check_padding(config.padding)
        self.pools = nn.ModuleDict(
            {f.name: NetVLAD(f.dim, config.clusters) for f in features}
            if config.pooling == "netvlad"
            else {}
        )
        size = sum(self.pools[f.name].out_dim if self.pools else f.dim for f in features)
        blocks: list[nn.Module] = [nn.Dropout(config.dropout)] if config.layers == 0 else []
        for _ in range(config.layers):
            blocks += [nn.Linear(size, config.hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            size = config.hidden
        self.body = nn.Sequential(*blocks)
        self.embed_dim = size
        self.classifier = nn.Linear(size, self.num_labels)

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        if self.config.padding == "zeros":
            inputs, masks = dict(inputs), dict(masks)
            for f in self.features:
                fixed = fixed_length(inputs[f.name], masks[f.name], f.max_len)
                inputs[f.name], masks[f.name] = fixed
        pooled = [
            self.pools[f.name](inputs[f.name], masks[f.name])
            if self.pools
            else masked_mean(inputs[f.name], masks[f.name])
            for f in self.features
        ]
        return self.body(torch.cat(pooled, dim=-1))
