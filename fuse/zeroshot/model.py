"""Zero-shot multi-label head with temporal attention (after Dogan et al., IWAENC 2022).

Genres are a small, changing label set; this head scores *any* label that a text encoder can embed.
Every time step of the trailer's feature sequences is projected by f_a into a joint space, every
label embedding by f_s into the same space, and their dot product s_{c,t} says how much step t looks
like label c. Labels such as "heist" show up in a few shots only, so the head attends: alpha =
softmax over t of s_c picks the steps that match the label, y_c = sum_t alpha_{c,t} s_{c,t}; the
uniform score z_c averages all steps; the fused score is p_c = gamma y_c + (1 - gamma) z_c.

It is a `Head` like the supervised ones (registered as `zeroshot`, saved and loaded by
`cinefeat.fuse.checkpoint`, fed `PaddedFeatures` standardised by `prepare_inputs`): `forward`
scores the labels it holds (a buffer set by `set_labels`: the training labels, or any list for
prediction), `embed` is the trailer in the joint space, and `score(...)` takes label embeddings as
an argument for labels never seen in training. Its decision threshold M (chosen on validation
labels) and the text encoder's provenance travel with it: `threshold` is a buffer,
`provenance["labels"]` names the encoder, so prediction can refuse label embeddings from another
text model (the joint space is only meaningful for the encoder it was trained with).

Until `set_labels` is called, the labels are fixed random unit vectors (seeded): the head is then
an ordinary supervised attention head over its label names, which `cinefeat train --head
zeroshot` and the tests of every registered head can train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, HeadConfigError, zero_padding
from cinefeat.fuse.heads.registry import register_head
from cinefeat.fuse.zeroshot.labels import LabelEmbeddingError, LabelEmbeddings

Pooling = Literal["mean", "sum"]


class ZeroShotConfigError(HeadConfigError):
    """A zero-shot head configuration or input that cannot work; the message names the fix."""


@dataclass
class ZeroShotConfig(HeadConfig):
    """Shape and fusion of a `TemporalAttentionZeroShot` head.

    `uniform="mean"` averages the compatibilities over real steps instead of the paper's sum: the
    paper's clips all last 10 s (sum = L * mean), trailers last 20 s to 4 min, and a sum would make
    scores grow with length so that no single threshold M fits them all. `uniform="sum"` is the
    paper, literally. `tanh=True` ends f_a and f_s in tanh as the paper's projections do, which
    bounds every compatibility s_{c,t} by the joint dimension. Training cuts long sequences
    `equidistant`ly (not to their first rows): a zero-shot label may live in the last shots.
    """

    dropout: float = 0.0
    crop: str = "equidistant"
    label_dim: int = 32
    joint_dim: int = 128
    hidden_dim: int | None = None
    gamma: float = 0.5
    uniform: str = "mean"
    tanh: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ZeroShotConfigError(
                f"gamma must be in [0, 1] (0.5 in the paper), got {self.gamma}"
            )
        if self.uniform not in ("mean", "sum"):
            raise ZeroShotConfigError(f"uniform must be 'mean' or 'sum', got {self.uniform!r}")


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


def random_label_vectors(count: int, dim: int) -> Tensor:
    """Seeded random unit vectors: the labels of a head no text encoder has named yet."""
    vectors = torch.randn(count, dim, generator=torch.Generator().manual_seed(0))
    return vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)


@register_head
class TemporalAttentionZeroShot(Head):
    """f_a per feature, f_s for labels, temporal attention + uniform pooling, fused by gamma."""

    name = "zeroshot"
    config_class = ZeroShotConfig
    open_labels: ClassVar[bool] = True
    scores_from_embedding: ClassVar[bool] = False
    config: ZeroShotConfig

    def __init__(self, config: ZeroShotConfig, features: list[FeatureSpec], label_names: list[str]):
        super().__init__(config, features, label_names)
        self.step_projections = nn.ModuleDict(
            {
                spec.name: _projection(
                    spec.dim, config.joint_dim, config.hidden_dim, config.dropout, config.tanh
                )
                for spec in features
            }
        )
        self.label_projection = _projection(
            config.label_dim, config.joint_dim, config.hidden_dim, config.dropout, config.tanh
        )
        self.register_buffer(
            "label_embeddings", random_label_vectors(len(label_names), config.label_dim)
        )
        self.register_buffer("threshold", torch.zeros((), dtype=torch.float32))
        self.embed_dim = config.joint_dim

    # -- labels, threshold and the text encoder ---------------------------------------------
    @property
    def decision_threshold(self) -> float:
        """M: a label is predicted when its fused score p_c exceeds it (a score, not a
        probability)."""
        return float(self.threshold)

    def set_threshold(self, value: float) -> None:
        self.threshold.fill_(float(value))

    def set_labels(self, label_embeddings: Any, label_names: list[str]) -> None:
        """The labels `forward` scores (the training labels, or any list for prediction)."""
        embeddings = torch.as_tensor(label_embeddings, dtype=torch.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.config.label_dim:
            raise ZeroShotConfigError(
                f"label embeddings must be (C, {self.config.label_dim}), got "
                f"{tuple(embeddings.shape)}: embed the labels with the text encoder used in "
                "training"
            )
        if len(label_names) != len(embeddings) or not label_names:
            raise ZeroShotConfigError(
                f"{len(label_names)} label names for {len(embeddings)} embeddings"
            )
        self.label_embeddings = embeddings.to(self.label_embeddings.device)
        self.label_names = list(label_names)

    def use_labels(self, labels: LabelEmbeddings) -> None:
        """`set_labels` from a `LabelEmbeddings`, whose encoder provenance the head keeps."""
        self.set_labels(labels.vectors, labels.names)
        self.provenance = {**self.provenance, "labels": dict(labels.provenance)}

    @property
    def label_provenance(self) -> dict[str, Any]:
        """How the training labels were embedded (`encoder`, `multiword`, ...)."""
        return dict(self.provenance.get("labels") or {})

    def trained_labels(self) -> LabelEmbeddings:
        """The labels this head holds, as `LabelEmbeddings` with the encoder's provenance."""
        vectors = self.label_embeddings.detach().cpu().numpy()
        return LabelEmbeddings(list(self.label_names), vectors, self.label_provenance)

    def check_encoder(self, candidate: LabelEmbeddings) -> None:
        """Refuse label embeddings whose encoder differs from the one used in training."""
        trained = self.label_provenance.get("encoder")
        given = candidate.provenance.get("encoder")
        if trained and given and trained != given:
            raise LabelEmbeddingError(
                f"labels were embedded with {given!r} but this head was trained with "
                f"{trained!r}: embed them with {trained!r}"
            )
        if candidate.dim != self.config.label_dim:
            raise LabelEmbeddingError(
                f"label embeddings are {candidate.dim}-d, the head expects "
                f"{self.config.label_dim}-d: embed them with {trained or 'the same encoder'}"
            )

    # -- the model --------------------------------------------------------------------------
    def step_embeddings(
        self, inputs: dict[str, Tensor], masks: dict[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """v_{x,t} for every step of every feature, concatenated along time: (B, T, D), (B, T).

        Inputs are standardised already (`prepare_inputs`, with `self.normalization`). Padded
        steps are zeroed *before* the projection so that whatever a collate function left there
        (zeros, garbage, NaN) cannot reach a score or a gradient.
        """
        self.check_inputs(inputs, masks)
        steps, step_masks = [], []
        for feature in self.feature_names:
            mask = masks[feature].bool()
            values = zero_padding(inputs[feature], mask)
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
        labels = self.label_vectors(label_embeddings.to(steps.device, steps.dtype))
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
        """Scores of the labels the head holds (heads contract: logits (B, C))."""
        return self.score(inputs, masks, self.label_embeddings)

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        """The trailer in the joint space: mean of v_{x,t} over real steps, (B, D)."""
        steps, mask = self.step_embeddings(inputs, masks)
        weights = mask.to(steps.dtype).unsqueeze(-1)
        return (steps * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)

    # -- the folder written by release 0.1 ---------------------------------------------------
    @classmethod
    def read_legacy_folder(cls, folder: Any, record: dict[str, Any]) -> dict[str, Any]:
        """The parts of a format-0 folder (`zeroshot-train` of cinefeat 0.1), see
        `cinefeat.fuse.zeroshot.legacy`."""
        from cinefeat.fuse.zeroshot.legacy import read_v0_folder

        return read_v0_folder(folder, record)
