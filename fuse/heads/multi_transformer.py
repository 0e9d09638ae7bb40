"""`multi-transformer`: one encoder with its own <CLS> per sequential feature (Sulun et al. §3.2.3).

The paper's best model (mAP 66.02 on MovieNet): sequential features each get a small encoder,
averaged features (`--average ocr,asr`) a Linear; the per-feature outputs are concatenated and a
Linear classifies. Defaults: 1 layer, 8 heads, d=128 per feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, masked_mean
from cinefeat.fuse.heads.encoders import ClsSequenceEncoder
from cinefeat.fuse.heads.registry import register_head


@dataclass
class MultiTransformerConfig(HeadConfig):
    d_model: int = 128
    heads: int = 8
    layers: int = 1
    dropout: float = 0.5
    final_norm: bool = False
    long_sequences: str = "error"
    padding: str = "mask"  # PADDINGS of encoders.py; "zeros" for heads imported from Sulun et al.


@register_head
class MultiTransformerHead(Head):
    name = "multi-transformer"
    attention_layout = "per-feature"
    config_class = MultiTransformerConfig

    def __init__(
        self, config: MultiTransformerConfig, features: list[FeatureSpec], label_names: list[str]
    ):
        super().__init__(config, features, label_names)
        d = config.d_model
        branches: dict[str, nn.Module] = {}
        for spec in features:
            if spec.averaged:
                branches[spec.name] = nn.Linear(spec.dim, d)
            else:
                branches[spec.name] = ClsSequenceEncoder(
                    spec.dim,
                    spec.max_len,
                    d,
                    config.heads,
                    config.layers,
                    config.dropout,
                    config.final_norm,
                    config.long_sequences,
                    config.padding,
                )
        self.branches = nn.ModuleDict(branches)
        self.embed_dim = d * len(features)
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(self.embed_dim, self.num_labels)
        )

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        outputs = []
        for spec in self.features:
            values, mask = inputs[spec.name], masks[spec.name]
            if spec.averaged:
                outputs.append(self.branches[spec.name](masked_mean(values, mask)))
            else:
                outputs.append(self.branches[spec.name](values, mask))
        return torch.cat(outputs, dim=-1)
