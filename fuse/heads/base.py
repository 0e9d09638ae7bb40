"""The heads contract: `Head`, its config dataclass, the feature description and mask helpers.

Every head maps `inputs: {feature: (B, L, d)}` plus `masks: {feature: (B, L) bool, True = real
step}` to logits `(B, C)`, via `embed(...) -> (B, D)` and a final `classifier`. None of the
published trailer codes masks padding; every head here does, so a trailer's prediction never
depends on how long the other trailers of its batch are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from cinefeat.store.errors import CinefeatError


class HeadConfigError(CinefeatError, ValueError):
    """A head configuration or input that cannot work; the message names the fix."""


@dataclass(frozen=True)
class FeatureSpec:
    """One input feature of a head: name, vector size, padded length, whether it was averaged.

    `averaged` features arrive as one vector (L = 1); sequence heads treat them differently (the
    multi-transformer passes them through a Linear instead of an encoder).
    """

    name: str
    dim: int
    max_len: int
    averaged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class HeadConfig:
    """Base of every head's hyper-parameters; subclasses add fields with the paper's defaults.

    `columns` (empty by default) restricts the head to some columns of a feature: the others are
    set to 0 after standardisation by a forward pre-hook, so training, evaluation and prediction
    all read the same subspace, and it is saved in `config.json` with the weights.

    `crop` is how training cuts a sequence longer than the feature's `max_len` (`first`,
    `equidistant` or `random`; see `cinefeat.fuse.data.CROPS`). It is recorded here, with the
    weights, because it is part of how the head was made; evaluation and prediction never crop
    (whole-trailer inference).
    """

    dropout: float = 0.5
    crop: str = "first"
    # the input columns this head reads, per feature (a random-subspace ensemble member,
    # `--subspace`, cinefeat.fuse.bagging); a feature not named here is read whole
    columns: dict[str, list[int]] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HeadConfig:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise HeadConfigError(
                f"unknown option(s) {unknown} for {cls.__name__}; valid: {sorted(known)}"
            )
        return cls(**values)

    def replace(self, **changes: Any) -> HeadConfig:
        """A copy with string values (from the command line) cast to each field's type."""
        current = self.to_dict()
        cast: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in current:
                raise HeadConfigError(
                    f"unknown option {key!r} for {type(self).__name__}; valid: {sorted(current)}"
                )
            kind = type(current[key])
            if isinstance(value, str) and kind is bool:
                if value.lower() not in ("true", "false", "1", "0"):
                    raise HeadConfigError(f"option {key!r} takes true or false, not {value!r}")
                cast[key] = value.lower() in ("true", "1")
            elif isinstance(value, str) and kind is not str:
                try:
                    cast[key] = kind(value)
                except ValueError as error:
                    raise HeadConfigError(
                        f"option {key!r} needs a {kind.__name__}, not {value!r}"
                    ) from error
            else:
                cast[key] = value
        return dataclasses.replace(self, **cast)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean over real steps `(B, L, d) -> (B, d)`; an all-padding row gives zeros, not NaN."""
    total = zero_padding(values, mask).sum(dim=1)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(total.dtype)
    return total / count


def zero_padding(values: Tensor, mask: Tensor) -> Tensor:
    """Padded steps set to 0, so that NaN/inf padding cannot leak through `0 * x` products."""
    return torch.where(mask.unsqueeze(-1), values, torch.zeros((), dtype=values.dtype))


def present(mask: Tensor) -> Tensor:
    """(B,) True where the trailer has at least one real step of this feature (not missing)."""
    return mask.any(dim=1)


class Head(nn.Module):
    """Base class: `forward = classifier(embed(...))`; subclasses build `embed` and `classifier`.

    `label_names`, `features`, `provenance` and `normalization` travel with the weights
    (`save_pretrained` / `from_pretrained` in `cinefeat.fuse.checkpoint`), so a folder is enough
    to predict on new trailers.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[HeadConfig]]
    stages: ClassVar[tuple[str, ...]] = ("train",)
    attention_layout: ClassVar[Literal["joint", "per-feature"] | None] = None
    """How `--explain` reads its <CLS> attention: one encoder over all features (`joint`), one
    encoder per sequential feature in `branches` (`per-feature`), or not at all (None)."""
    scores_from_embedding: ClassVar[bool] = True
    """Whether `forward(x) == classifier(embed(x))`; False for a head whose scores need more than
    the pooled embedding (the zero-shot head attends over the steps once per label)."""
    open_labels: ClassVar[bool] = False
    """Whether the head scores label names it was not trained on (`predict --labels`): the
    zero-shot head does, from label embeddings; the others predict their fixed labels."""

    def __init__(self, config: HeadConfig, features: list[FeatureSpec], label_names: list[str]):
        super().__init__()
        if not features:
            raise HeadConfigError("a head needs at least one feature: pass --features clip,...")
        if not label_names:
            raise HeadConfigError("a head needs at least one label: set labels in the store")
        from cinefeat.fuse.data import CROPS

        if config.crop not in CROPS:
            raise HeadConfigError(f"crop {config.crop!r} is not one of {', '.join(CROPS)}")
        self.config = config
        self.features = list(features)
        self.label_names = list(label_names)
        self.provenance: dict[str, Any] = {}
        self.normalization: dict[str, tuple[Tensor, Tensor]] = {}
        self.average: list[str] = [f.name for f in features if f.averaged]
        # the other members of a seed ensemble (`--ensemble K`, cinefeat.fuse.ensemble): their
        # probabilities are averaged with this head's by `predict_padded`; a plain list, so
        # they are not in this head's state_dict (each is saved in its own folder)
        self.ensemble_members: list[Head] = []
        check_columns(config.columns, features)
        self.register_forward_pre_hook(_keep_columns, with_kwargs=True)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def decision_threshold(self) -> float:
        """Where a label counts as predicted: 0.5 on the probabilities of `predict_proba`."""
        return 0.5

    def embed(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def forward(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        return self.classifier(self.embed(inputs, masks))

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the self-describing folder (see `cinefeat.fuse.checkpoint`)."""
        from cinefeat.fuse.checkpoint import save_head

        return save_head(self, folder)

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> Head:
        """Load any head folder; on a subclass, also check the folder holds that head."""
        from cinefeat.fuse.checkpoint import CheckpointError, load_head

        head = load_head(folder, device)
        if cls is not Head and not isinstance(head, cls):
            raise CheckpointError(f"{folder} holds a {head.name!r} head, not {cls.name!r}")
        return head

    @classmethod
    def read_legacy_folder(cls, folder: Path, record: dict[str, Any]) -> dict[str, Any]:
        """The parts of a folder written before the current format (`config.json` without a
        `format`), as `cinefeat.fuse.checkpoint.load_head` reads them from a current one: keys
        `config`, `features` (the `features.json` document), `labels`, `state`, `normalization`.
        Heads that never wrote such a folder refuse it."""
        from cinefeat.fuse.checkpoint import CheckpointError

        raise CheckpointError(
            f"{folder}/config.json has no format version and {cls.name!r} heads were always "
            "saved with one: the folder was edited by hand or comes from another program; re-save "
            "the head"
        )

    # --- hooks the training loop calls; heads with special training override them ------------
    def begin_stage(self, stage: str) -> None:
        """Called before each training stage (multi-stage heads freeze parts here)."""

    def training_crop(
        self, inputs: dict[str, Tensor], masks: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """With `crop=random`, one random window of `max_len` rows per sequence feature.

        The loader already cut `first`/`equidistant` crops; a `random` crop keeps the training
        split whole and draws the window here, per batch, from the trainer's seeded generator.
        """
        if self.config.crop != "random":
            return inputs, masks
        from cinefeat.fuse.data import random_window

        views, view_masks = dict(inputs), dict(masks)
        for spec in self.features:
            if not spec.averaged and spec.name in inputs:
                views[spec.name], view_masks[spec.name] = random_window(
                    inputs[spec.name], masks[spec.name], spec.max_len, generator
                )
        return views, view_masks

    def training_view(
        self, inputs: dict[str, Tensor], masks: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """What the head sees of a training batch (e.g. one random window); default: all of it."""
        return inputs, masks

    def loss(
        self,
        inputs: dict[str, Tensor],
        masks: dict[str, Tensor],
        labels: Tensor,
        criterion: Callable[[Tensor, Tensor], Tensor],
    ) -> Tensor:
        return criterion(self(inputs, masks), labels)

    def predict_proba(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> Tensor:
        """Probabilities (B, C) at evaluation time (window-averaging heads override this)."""
        return torch.sigmoid(self(inputs, masks).float())

    def check_inputs(self, inputs: dict[str, Tensor], masks: dict[str, Tensor]) -> None:
        missing = [f.name for f in self.features if f.name not in inputs or f.name not in masks]
        if missing:
            raise HeadConfigError(
                f"head {self.name!r} was trained on {self.feature_names}; inputs lack {missing}"
            )


def check_columns(columns: dict[str, list[int]], features: list[FeatureSpec]) -> None:
    """Every named feature exists and every column index is inside its vector."""
    dims = {f.name: f.dim for f in features}
    for name, kept in columns.items():
        if name not in dims:
            raise HeadConfigError(f"columns name feature {name!r}; the head reads {sorted(dims)}")
        bad = [c for c in kept if not 0 <= int(c) < dims[name]]
        if bad or not kept:
            raise HeadConfigError(
                f"columns of {name!r} must be 1 or more indices in 0..{dims[name] - 1}, got "
                f"{bad or 'none'}; drop the option to read the whole feature"
            )


def _keep_columns(head: Head, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
    """Forward pre-hook: zero the columns outside `config.columns` (a random subspace).

    After standardisation a zeroed column carries no signal, and its first-layer weights get no
    gradient but weight decay, so the member learns as if the column were absent (Ho 1998).
    """
    columns = head.config.columns
    if not columns:
        return None
    inputs = args[0] if args else kwargs["inputs"]
    kept = dict(inputs)
    for name, indices in columns.items():
        values = kept[name]
        keep = torch.zeros(values.shape[-1], dtype=values.dtype, device=values.device)
        keep[torch.as_tensor(indices, dtype=torch.long, device=values.device)] = 1
        kept[name] = values * keep
    if args:
        return (kept, *args[1:]), kwargs
    return args, {**kwargs, "inputs": kept}


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, dropout: float) -> nn.Sequential:
    """`layers` hidden Linear+ReLU+Dropout blocks then a Linear (layers=0: a single Linear)."""
    blocks: list[nn.Module] = []
    size = in_dim
    for _ in range(layers):
        blocks += [nn.Linear(size, hidden), nn.ReLU(), nn.Dropout(dropout)]
        size = hidden
    blocks.append(nn.Linear(size, out_dim))
    return nn.Sequential(*blocks)
