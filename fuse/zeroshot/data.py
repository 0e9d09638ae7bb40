"""Padded feature sequences in memory: what the zero-shot trainer and the similarity tools consume.

A trailer dataset of cached features is small (26k trailers x a few hundred steps), so the zero-shot
folds, which pick trailers *and* label columns per role, slice tensors held in memory rather than
re-reading the store per role. `from_store` builds them through the store API of docs/contracts.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from cinefeat.store.errors import CinefeatError


class SequenceDataError(CinefeatError, ValueError):
    """Sequences that cannot be built or sliced as asked; the message names the fix."""


@dataclass
class SequenceTensors:
    """inputs {feature: (N, L, d)}, masks {feature: (N, L) True = real step}, targets (N, C)."""

    inputs: dict[str, Tensor]
    masks: dict[str, Tensor]
    targets: Tensor
    label_names: list[str]
    ids: list[str]

    def __post_init__(self) -> None:
        n = len(self.ids)
        for feature, values in self.inputs.items():
            mask = self.masks.get(feature)
            if mask is None or values.shape[:2] != mask.shape or values.shape[0] != n:
                raise SequenceDataError(
                    f"feature {feature!r}: values {tuple(values.shape)} and mask "
                    f"{None if mask is None else tuple(mask.shape)} must be (N={n}, L, d), (N, L)"
                )
        if self.targets.shape != (n, len(self.label_names)):
            raise SequenceDataError(
                f"targets {tuple(self.targets.shape)} must be ({n}, {len(self.label_names)})"
            )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def feature_dims(self) -> dict[str, int]:
        return {feature: int(values.shape[-1]) for feature, values in self.inputs.items()}

    def take(self, rows: Sequence[int] | np.ndarray, labels: Sequence[str] | None = None):
        """A subset of trailers, and optionally of label columns (in the given order)."""
        index = torch.as_tensor(np.asarray(rows, dtype=np.int64))
        names = self.label_names if labels is None else list(labels)
        position = {name: i for i, name in enumerate(self.label_names)}
        unknown = [n for n in names if n not in position]
        if unknown:
            raise SequenceDataError(f"labels {unknown} are not among {self.label_names}")
        columns = torch.as_tensor([position[n] for n in names], dtype=torch.long)
        return SequenceTensors(
            inputs={f: v[index] for f, v in self.inputs.items()},
            masks={f: m[index] for f, m in self.masks.items()},
            targets=self.targets[index][:, columns],
            label_names=names,
            ids=[self.ids[i] for i in index.tolist()],
        )

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[dict[str, Tensor], dict[str, Tensor], Tensor]]:
        order = (
            torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        )
        for start in range(0, len(self), batch_size):
            rows = order[start : start + batch_size]
            yield (
                {f: v[rows].float() for f, v in self.inputs.items()},
                {f: m[rows] for f, m in self.masks.items()},
                self.targets[rows],
            )

    def feature_statistics(self, feature: str) -> tuple[Tensor, Tensor]:
        """Mean and std over the real steps of one feature (for input standardisation)."""
        rows = self.inputs[feature][self.masks[feature]]
        if len(rows) == 0:
            dim = self.inputs[feature].shape[-1]
            return torch.zeros(dim), torch.ones(dim)
        rows = rows.double()
        return rows.mean(dim=0).float(), rows.std(dim=0, unbiased=False).float()


def pad_sequences(
    sequences: Sequence[np.ndarray],
    dim: int,
    max_len: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Left-aligned padding to (N, L, dim) with masks; longer sequences are subsampled evenly.

    Even subsampling (not truncation) keeps the end of a trailer: a label may live in its last
    shots.
    """
    lengths = [len(s) for s in sequences]
    cap = max(lengths, default=0) if max_len is None else max_len
    length = max(1, min(max(lengths, default=0), cap))
    values = torch.zeros(len(sequences), length, dim, dtype=dtype)
    mask = torch.zeros(len(sequences), length, dtype=torch.bool)
    for i, rows in enumerate(sequences):
        if len(rows) > length:
            rows = rows[np.linspace(0, len(rows) - 1, length).round().astype(np.int64)]
        values[i, : len(rows)] = torch.as_tensor(np.asarray(rows, dtype=np.float32)).to(dtype)
        mask[i, : len(rows)] = True
    return values, mask


def from_store(
    store,
    features: Sequence[str],
    ids: Sequence[str] | None = None,
    max_len: dict[str, int] | None = None,
) -> SequenceTensors:
    """Sequences of `features` for `ids` (default: every ok trailer with all features committed).

    Uses `store.load_feature` (one pass per feature) and `store.labels()` from the store contract.
    Unlike `cinefeat.fuse.data` (which keeps the first rows, as the genre papers do), sequences
    longer than `max_len` are subsampled evenly: a zero-shot label may live in the last shots.
    """
    if not features:
        raise SequenceDataError("no features given: name at least one store feature")
    available = set(store.features())
    missing = [f for f in features if f not in available]
    if missing:
        raise SequenceDataError(
            f"features {missing} are not in the store (it has {sorted(available)}): "
            "extract them first with `cinefeat extract`"
        )
    if ids is None:
        committed = set(store.ids(status="ok"))
        for feature in features:
            committed &= set(store.committed(feature))
        ids = sorted(committed)
    ids = list(ids)
    label_names, label_map = store.labels()
    targets = np.zeros((len(ids), len(label_names)), dtype=np.float32)
    for i, trailer in enumerate(ids):
        if trailer in label_map:
            targets[i] = label_map[trailer]
    inputs, masks = {}, {}
    for feature in features:
        values, _spans, offsets = store.load_feature(feature)
        # a trailer without rows of this feature (no audio stream, ...) is all padding
        rows = [np.asarray(values[slice(*offsets.get(t, (0, 0)))], dtype=np.float32) for t in ids]
        cap = None if max_len is None else max_len.get(feature)
        # float16 in memory (26k trailers x 216 steps x 512 dims = 5.7 GB), float32 per batch
        inputs[feature], masks[feature] = pad_sequences(
            rows, int(values.shape[1]), cap, torch.float16
        )
    return SequenceTensors(inputs, masks, torch.as_tensor(targets), list(label_names), ids)
