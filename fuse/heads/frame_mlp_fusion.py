"""`frame-mlp-fusion`: the "baseline" on ViT/AST features, trained in two stages.

Stage `frames`: one MLP per feature (image, audio) classifies single frames/windows with the
trailer's labels, which gives the MLPs many more (noisy) examples than there are trailers.
Stage `fusion`: the MLPs are frozen; their hidden vectors of a whole trailer feed one fusion
transformer per feature (1 layer, 4 heads, d=768, with <CLS>); the CLS outputs are concatenated
and a Linear classifies. The training loop runs both stages (`stages`), calling `begin_stage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, zero_padding
from cinefeat.fuse.heads.encoders import ClsSequenceEncoder
from cinefeat.fuse.heads.registry import register_head


@dataclass
class FrameMLPFusionConfig(HeadConfig):
    hidden: int = 768
    d_model: int = 768
    heads: int = 4
    layers: int = 1
    dropout: float = 0.5


@register_head
class FrameMLPFusionHead(Head):
    name = "frame-mlp-fusion"
    config_class = FrameMLPFusionConfig
    stages = ("frames", "fusion")

    def __init__(
        self, config: FrameMLPFusionConfig, features: list[FeatureSpec], label_names: list[str]
    ):
        super().__init__(config, features, label_names)
        h, c = config.hidden, self.num_labels
        self.frame_mlps = nn.ModuleDict(
            {
                f.name: nn.Sequential(nn.Linear(f.dim, h), nn.ReLU(), nn.Dropout(config.dropout))
                for f in features
            }
        )
        self.frame_classifiers = nn.ModuleDict({f.name: nn.Linear(h, c) for f in features})
        self.fusion = nn.ModuleDict(
            {
                f.name: ClsSequenceEncoder(
                    h, f.max_len, config.d_model, config.heads, config.layers, config.dropout
                )
                for f in features
            }
        )
        self.embed_dim = config.d_model * len(features)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(self.embed_dim, c))
        self.stage = "fusion"

    def _frozen(self) -> list[nn.Module]:
        return [self.frame_mlps, self.frame_classifiers]

    def begin_stage(self, stage: str) -> None:
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}; stages are {self.stages}")
        self.stage = stage
        for module in self._frozen():
            module.requires_grad_(stage == "frames")
        for module in [*self.fusion.values(), self.classifier]:
            module.requires_grad_(stage == "fusion")
        self.train(self.training)

    def train(self, mode: bool = True) -> FrameMLPFusionHead:
        super().train(mode)
        if self.stage == "fusion":
            for module in self._frozen():
                module.eval()  # frozen MLPs: no dropout noise in stage 2
        return self

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        outputs = []
        for spec in self.features:
            values, mask = zero_padding(inputs[spec.name], masks[spec.name]), masks[spec.name]
            hidden = self.frame_mlps[spec.name](values)
            outputs.append(self.fusion[spec.name](hidden, mask))
        return torch.cat(outputs, dim=-1)

    def frame_logits(
        self, inputs: dict[str, Tensor], masks: dict[str, Tensor]
    ) -> dict[str, Tensor]:
        """Per-frame logits (B, L, C) of each stage-1 MLP."""
        return {
            n: self.frame_classifiers[n](self.frame_mlps[n](zero_padding(inputs[n], masks[n])))
            for n in self.feature_names
        }

    def loss(
        self,
        inputs: dict[str, Tensor],
        masks: dict[str, Tensor],
        labels: Tensor,
        criterion: Callable[[Tensor, Tensor], Tensor],
    ) -> Tensor:
        if self.stage != "frames":
            return criterion(self(inputs, masks), labels)
        losses = []
        for name, logits in self.frame_logits(inputs, masks).items():
            mask = masks[name]
            if mask.any():
                frame_labels = labels.unsqueeze(1).expand(-1, mask.shape[1], -1)
                losses.append(criterion(logits[mask], frame_labels[mask]))
        if not losses:
            return (self.frame_classifiers[self.feature_names[0]].bias * 0).sum()
        return torch.stack(losses).mean()

    def predict_proba(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        if self.stage != "frames":
            return super().predict_proba(inputs, masks)
        probabilities = []
        for name, logits in self.frame_logits(inputs, masks).items():
            weights = masks[name].unsqueeze(-1).float()
            mean = (torch.sigmoid(logits.float()) * weights).sum(1) / weights.sum(1).clamp(min=1)
            probabilities.append(mean)
        return torch.stack(probabilities).mean(dim=0)
