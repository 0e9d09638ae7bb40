"""`gated`: collaborative gating over per-feature experts (Fish et al., MMX-Trailer-20).

The collaborative-experts design: each feature (expert) is pooled and projected to d; expert i is
gated by what the *other available* experts say about it (a relation MLP g over each pair
[e_i, e_j], summed over j, then an MLP h and a sigmoid), then passes a gated embedding unit
(Linear, context gating, L2 norm). A trailer without, say, speech simply has no `asr` expert:
its slot is zero and it takes no part in anyone's gate, which is what makes the head robust to
missing features. Default: d=768 per expert.

`gate_per="clip"` (preset `gated:fish2020`) gates per clip as Fish et al. do: every feature's real
rows are cut into `clips` equal stretches of the trailer, each stretch is mean-pooled, and the
experts of one clip gate each other; an expert without rows in a clip sits that clip out. With
`fusion="sum"` (Fish's code, `CollaborativeGating.forward`) the gated experts of a clip are summed
and pass one gated embedding unit to `fused_dim`; the clip vectors are then averaged, so every row
of a trailer of any length counts. `pooling="netvlad"` pools each expert with NetVLAD
(`cinefeat.fuse.heads.vlad`) instead of the mean (per trailer only).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cinefeat.fuse.heads.base import (
    FeatureSpec,
    Head,
    HeadConfig,
    HeadConfigError,
    masked_mean,
    present,
)
from cinefeat.fuse.heads.registry import register_head
from cinefeat.fuse.heads.vlad import NetVLAD, check_pooling

GATE_PER = ("trailer", "clip")
FUSIONS = ("concat", "sum")


@dataclass
class GatedConfig(HeadConfig):
    d_model: int = 768
    hidden: int = 512
    dropout: float = 0.5
    gate_per: str = "trailer"  # GATE_PER: gate once per trailer, or per clip (Fish et al.)
    clips: int = 5  # gate_per=clip: equal stretches each trailer is cut into
    fusion: str = "concat"  # FUSIONS: concatenate the gated experts, or sum them (Fish et al.)
    fused_dim: int = 1024  # fusion=sum: width of the gated embedding unit after the sum
    pooling: str = "mean"  # POOLINGS of vlad.py: how each expert is pooled over its rows
    clusters: int = 8  # pooling=netvlad: clusters per expert


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
        check_pooling(config.pooling)
        if config.gate_per not in GATE_PER or config.fusion not in FUSIONS:
            raise HeadConfigError(
                f"gate_per must be one of {GATE_PER} and fusion one of {FUSIONS}, not "
                f"{config.gate_per!r} / {config.fusion!r}"
            )
        if config.gate_per == "clip" and (config.clips < 1 or config.pooling != "mean"):
            raise HeadConfigError("gate_per=clip needs clips >= 1 and pooling=mean (per clip)")
        d = config.d_model
        self.pools = nn.ModuleDict(
            {f.name: NetVLAD(f.dim, config.clusters) for f in features}
            if config.pooling == "netvlad"
            else {}
        )
        width = {f.name: self.pools[f.name].out_dim if self.pools else f.dim for f in features}
        self.experts = nn.ModuleDict({f.name: nn.Linear(width[f.name], d) for f in features})
        self.relation = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, d))
        self.attention = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        if config.fusion == "sum":
            self.fused = nn.Linear(d, config.fused_dim)
            self.embed_dim = config.fused_dim
        else:
            self.units = nn.ModuleDict({f.name: GatedEmbeddingUnit(d) for f in features})
            self.embed_dim = d * len(features)
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(self.embed_dim, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, self.num_labels),
        )

    def _pool(self, name: str, values: Tensor, mask: Tensor) -> Tensor:
        return self.pools[name](values, mask) if self.pools else masked_mean(values, mask)

    def _gate(self, experts: Tensor, available: Tensor) -> Tensor:
        """Collaborative gating of `(N, E, d)` experts, `available` `(N, E)` -> `(N, D)`."""
        count = experts.shape[1]
        left = experts.unsqueeze(2).expand(-1, -1, count, -1)
        right = experts.unsqueeze(1).expand(-1, count, -1, -1)
        relations = self.relation(torch.cat([left, right], dim=-1))  # (N, E, E, d)
        others = available.unsqueeze(1) & ~torch.eye(count, dtype=torch.bool, device=experts.device)
        summed = (relations * others.unsqueeze(-1).to(relations.dtype)).sum(dim=2)
        gated = experts * torch.sigmoid(self.attention(summed))
        weight = available.unsqueeze(-1).to(gated.dtype)
        if self.config.fusion == "sum":  # Fish: sum the gated experts, then one embedding unit
            return F.normalize(self.fused((gated * weight).sum(dim=1)), dim=-1)
        names = self.feature_names
        units = torch.stack([self.units[n](gated[:, i]) for i, n in enumerate(names)], dim=1)
        return (units * weight).flatten(1)

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        self.check_inputs(inputs, masks)
        if self.config.gate_per == "clip":
            return self._embed_per_clip(inputs, masks)
        names = self.feature_names
        experts = torch.stack(
            [self.experts[n](self._pool(n, inputs[n], masks[n])) for n in names], dim=1
        )  # (B, E, d)
        available = torch.stack([present(masks[n]) for n in names], dim=1)  # (B, E)
        return self._gate(experts, available)

    def _embed_per_clip(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        clips = self.config.clips
        pooled, available = [], []
        for name in self.feature_names:
            means, has = clip_means(inputs[name], masks[name], clips)  # (B, K, dim), (B, K)
            pooled.append(self.experts[name](means))
            available.append(has)
        experts = torch.stack(pooled, dim=2)  # (B, K, E, d)
        has = torch.stack(available, dim=2)  # (B, K, E)
        batch, _, count, d = experts.shape
        vectors = self._gate(experts.reshape(batch * clips, count, d), has.reshape(-1, count))
        vectors = vectors.reshape(batch, clips, -1)
        real = has.any(dim=2).unsqueeze(-1).to(vectors.dtype)  # a clip with any expert
        return (vectors * real).sum(dim=1) / real.sum(dim=1).clamp(min=1)


def clip_means(values: Tensor, mask: Tensor, clips: int) -> tuple[Tensor, Tensor]:
    """Each trailer's real rows cut into `clips` equal stretches, in order, each mean-pooled:
    `(B, L, d)` -> `(B, clips, d)` and `(B, clips)` True where the stretch has a row (a trailer
    with fewer rows than clips leaves some stretches empty). Row t of n real rows belongs to
    stretch floor(t * clips / n), so the stretches cover the whole trailer at any length."""
    order = mask.long().cumsum(dim=1) - 1  # index of each real row among the real rows
    count = mask.sum(dim=1, keepdim=True).clamp(min=1)
    stretch = (order.clamp(min=0) * clips) // count  # (B, L)
    onehot = F.one_hot(stretch, clips).to(values.dtype) * mask.unsqueeze(-1).to(values.dtype)
    safe = torch.where(mask.unsqueeze(-1), values, torch.zeros((), dtype=values.dtype))
    sums = torch.einsum("blk,bld->bkd", onehot, safe)
    rows = onehot.sum(dim=1)  # (B, K)
    return sums / rows.clamp(min=1).unsqueeze(-1), rows > 0
