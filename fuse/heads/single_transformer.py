"""`single-transformer`: all features in one sequence, one encoder, one <CLS> (Sulun et al. §3.2.2).

Each feature is projected to d, gets its own learned positional embeddings and is introduced by
its own learned <SEP> token; the features are concatenated in time after a single <CLS>, so
attention can relate, say, a shot to a line of dialogue. Defaults: 2 layers, 8 heads, d=256.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, zero_padding
from cinefeat.fuse.heads.encoders import (
    check_long_sequences,
    check_padding,
    encode,
    equidistant,
    fixed_length,
    learned_positions,
    transformer,
)
from cinefeat.fuse.heads.registry import register_head


@dataclass
class SingleTransformerConfig(HeadConfig):
    d_model: int = 256
    heads: int = 8
    layers: int = 2
    dropout: float = 0.5
    final_norm: bool = False
    long_sequences: str = "error"
    padding: str = "mask"  # PADDINGS of encoders.py; "zeros" for heads imported from Sulun et al.


@register_head
class SingleTransformerHead(Head):
    name = "single-transformer"
    attention_layout = "joint"
    config_class = SingleTransformerConfig

    def __init__(
        self, config: SingleTransformerConfig, features: list[FeatureSpec], label_names: list[str]
    ):
        super().__init__(config, features, label_names)
        check_long_sequences(config.long_sequences)
        check_padding(config.padding)
        d = config.d_model
        self.project = nn.ModuleDict({f.name: nn.Linear(f.dim, d) for f in features})
        self.positions = nn.ParameterDict(
            {f.name: nn.Parameter(torch.randn(1, f.max_len, d) * 0.02) for f in features}
        )
        self.separators = nn.Parameter(torch.randn(len(features), d) * 0.02)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.encoder = transformer(
            d, config.heads, config.layers, config.dropout, final_norm=config.final_norm
        )
        self.embed_dim = d
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(d, self.num_labels))

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        first = inputs[self.features[0].name]
        batch = first.shape[0]
        tokens = [self.cls.expand(batch, -1, -1)]
        real = [torch.ones(batch, 1, dtype=torch.bool, device=first.device)]
        for index, spec in enumerate(self.features):
            values, mask = inputs[spec.name], masks[spec.name]
            if self.config.padding == "zeros":
                values, mask = fixed_length(values, mask, spec.max_len)
            elif self.config.long_sequences == "equidistant":
                values, mask = equidistant(values, mask, spec.max_len)
            projected = self.project[spec.name](zero_padding(values, mask))
            tokens.append(self.separators[index].expand(batch, 1, -1))
            tokens.append(projected + learned_positions(self.positions[spec.name], mask))
            real += [real[0], mask]
        encoded = encode(self.encoder, torch.cat(tokens, dim=1), torch.cat(real, dim=1))
        return encoded[:, 0]
