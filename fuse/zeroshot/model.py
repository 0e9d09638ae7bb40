"""Zero-shot multi-label head with temporal attention (after Dogan et al., IWAENC 2022).

Genres are a small, changing label set; this head scores *any* label that a text encoder can embed.
Every time step of the trailer's feature sequences is projected by f_a into a joint space, every
label embedding by f_s into the same space, and their dot product s_{c,t} says how much step t looks
like label c. Labels such as "heist" show up in a few shots only, so the head attends: alpha =
softmax over t of s_c picks the steps that match the label, y_c = sum_t alpha_{c,t} s_{c,t}; the
uniform score z_c averages all steps; the fused score is p_c = gamma y_c + (1 - gamma) z_c.

The head keeps the embeddings of "its" labels as a buffer, so `forward(inputs, masks) -> (B, C)`
and `embed(inputs, masks) -> (B, D)` follow the heads contract (docs/contracts.md); `score(...)`
takes label embeddings as an argument for labels never seen in training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from cinefeat.store.errors import CinefeatError

Pooling = Literal["mean", "sum"]


class ZeroShotConfigError(CinefeatError, ValueError):
    """A zero-shot head configuration or input that cannot work; the message names the fix."""


@dataclass
class ZeroShotConfig:
    """Shape and fusion of a `TemporalAttentionZeroShot` head.

    `uniform="mean"` averages the compatibilities over real steps instead of the paper's sum: the
    paper's clips all last 10 s (sum = L * mean), trailers last 20 s to 4 min, and a sum would make
    scores grow with length so that no single threshold M fits them all. `uniform="sum"` is the
    paper, literally. `tanh=True` ends f_a and f_s in tanh as the paper's projections do, which
    bounds every compatibility s_{c,t} by the joint dimension.
    """

    feature_dims: dict[str, int]
    label_dim: int
    joint_dim: int = 128
    hidden_dim: int | None = None
    gamma: float = 0.5
    uniform: Pooling = "mean"
    dropout: float = 0.0
    tanh: bool = False
    feature_order: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.feature_dims:
            raise ZeroShotConfigError("feature_dims is empty: name at least one store feature")
        if not 0.0 <= self.gamma <= 1.0:
            raise ZeroShotConfigError(
                f"gamma must be in [0, 1] (0.5 in the paper), got {self.gamma}"
            )
        if self.uniform not in ("mean", "sum"):
            raise ZeroShotConfigError(f"uniform must be 'mean' or 'sum', got {self.uniform!r}")
        if not self.feature_order:
            self.feature_order = sorted(self.feature_dims)

    def to_dict(self) -> dict:
        return asdict(self)


def _projection(
    in_dim: int, out_dim: int, hidden_dim: int | None, dropout: float, tanh: bool = False
) -> nn.Module:
    """Linear by default: a linear f_s keeps unseen label embeddings in the geometry it learned."""
    layers: list[nn.Module] = [nn.Dropout(dropout)]
    if hidden_dim is None:
        layers.append(nn.Linear(in_dim, out_dim))
    else:
        layers += [nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim)]
    if tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class TemporalAttentionZeroShot(nn.Module):
    """f_a per feature, f_s for labels, temporal attention + uniform pooling, fused by gamma."""

    name = "zeroshot"

    def __init__(self, config: ZeroShotConfig) -> None:
        super().__init__()
        self.config = config
        self.step_projections = nn.ModuleDict(
            {
                feature: _projection(
                    dim, config.joint_dim, config.hidden_dim, config.dropout, config.tanh
                )
                for feature, dim in config.feature_dims.items()
            }
        )
        self.label_projection = _projection(
            config.label_dim, config.joint_dim, config.hidden_dim, config.dropout, config.tanh
        )
        for feature, dim in config.feature_dims.items():
            self.register_buffer(f"mean_{feature}", torch.zeros(dim))
            self.register_buffer(f"std_{feature}", torch.ones(dim))
        self.register_buffer("label_embeddings", torch.zeros(0, config.label_dim))
        self.label_names: list[str] = []

    # -- labels and normalisation -----------------------------------------------------------
    def set_labels(self, label_embeddings: Tensor, label_names: list[str]) -> None:
        """The labels `forward` scores (the training labels, or any list for prediction)."""
        embeddings = torch.as_tensor(label_embeddings, dtype=torch.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.config.label_dim:
            raise ZeroShotConfigError(
                f"label embeddings must be (C, {self.config.label_dim}), got "
                f"{tuple(embeddings.shape)}: embed the labels with the text encoder used in "
                "training"
            )
        if len(label_names) != len(embeddings):
            raise ZeroShotConfigError(
                f"{len(label_names)} label names for {len(embeddings)} embeddings"
            )
        self.label_embeddings = embeddings.to(self.label_embeddings.device)
        self.label_names = list(label_names)

    def set_normalization(self, feature: str, mean: Tensor, std: Tensor) -> None:
        """Per-dimension standardisation of one input feature, fitted on training rows."""
        getattr(self, f"mean_{feature}").copy_(torch.as_tensor(mean))
        getattr(self, f"std_{feature}").copy_(torch.as_tensor(std).clamp_min(1e-6))

    # -- the model --------------------------------------------------------------------------
    def step_embeddings(
        self, inputs: dict[str, Tensor], masks: dict[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """v_{x,t} for every step of every feature, concatenated along time: (B, T, D), (B, T).

        Padded steps are zeroed *before* the projection so that whatever a collate function left
        there (zeros, garbage, NaN) cannot reach a score or a gradient.
        """
        missing = [f for f in self.config.feature_order if f not in inputs or f not in masks]
        if missing:
            raise ZeroShotConfigError(
                f"inputs lack feature(s) {missing}: this head was trained on "
                f"{self.config.feature_order}; load the same features from the store"
            )
        steps, step_masks = [], []
        for feature in self.config.feature_order:
            values, mask = inputs[feature], masks[feature].bool()
            mean = getattr(self, f"mean_{feature}").to(values.dtype)
            std = getattr(self, f"std_{feature}").to(values.dtype)
            values = torch.where(mask.unsqueeze(-1), (values - mean) / std, 0.0)
            steps.append(self.step_projections[feature](values))
            step_masks.append(mask)
        return torch.cat(steps, dim=1), torch.cat(step_masks, dim=1)

    def label_vectors(self, label_embeddings: Tensor) -> Tensor:
        """v_c = f_s(label embedding): (C, D)."""
        return self.label_projection(label_embeddings)

    def score_parts(
        self, inputs: dict[str, Tensor], masks: dict[str, Tensor], label_embeddings: Tensor
    ) -> dict[str, Tensor]:
        """Everything the head computes, for inspection: s (B, C, T), alpha, y, z, p (B, C)."""
        steps, mask = self.step_embeddings(inputs, masks)
        labels = self.label_vectors(label_embeddings.to(steps.dtype))
        compat = torch.einsum("cd,btd->bct", labels, steps)
        real = mask.unsqueeze(1)  # (B, 1, T)
        has_steps = mask.any(dim=1, keepdim=True)  # (B, 1): a trailer with no rows scores 0
        attention = torch.softmax(compat.masked_fill(~real, float("-inf")), dim=-1)
        attention = torch.where(real & has_steps.unsqueeze(-1), attention, 0.0)
        compat = torch.where(real, compat, 0.0)
        attended = (attention * compat).sum(dim=-1)
        uniform = compat.sum(dim=-1)
        if self.config.uniform == "mean":
            uniform = uniform / mask.sum(dim=1, keepdim=True).clamp_min(1).to(uniform.dtype)
        gamma = self.config.gamma
        fused = gamma * attended + (1.0 - gamma) * uniform
        return {"s": compat, "alpha": attention, "y": attended, "z": uniform, "p": fused}

    def score(
        self, inputs: dict[str, Tensor], masks: dict[str, Tensor], label_embeddings: Tensor
    ) -> Tensor:
        """p (B, C) for arbitrary label embeddings (C, label_dim): the zero-shot entry point."""
        return self.score_parts(inputs, masks, label_embeddings)["p"]

    def forward(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        """Scores of the labels set with `set_labels` (heads contract: logits (B, C))."""
        if len(self.label_embeddings) == 0:
            raise ZeroShotConfigError(
                "no labels set: call set_labels(embeddings, names) or use score(...)"
            )
        return self.score(inputs, masks, self.label_embeddings)

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        """The trailer in the joint space: mean of v_{x,t} over real steps, (B, D)."""
        steps, mask = self.step_embeddings(inputs, masks)
        weights = mask.to(steps.dtype).unsqueeze(-1)
        return (steps * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
