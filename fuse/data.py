"""Padded feature tensors in memory, and batches from them, for training and evaluation.

A head's training set is small enough to hold (MovieNet: 18k trailers), so every feature is padded
once to its max length (the upper-whisker rule or an explicit cap) and batches are index slices:
the data loader costs a gather per batch, not a Python loop per trailer.

Numbers that cannot lie: float16 is only a storage format. A feature the store holds in float16
stays float16 in memory (no value can change: it already fits); anything else is held in float32,
because casting a real value above 65,504 to float16 makes it `inf` and standardisation then turns
the whole head into NaN. Every batch becomes float32 before the head sees it; the standardisation
statistics are float64. A non-finite input is an error that names the feature and the trailer
(`require_finite`), never a NaN head that reports a metric.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from cinefeat.store.errors import CinefeatError

T = TypeVar("T")


class DataError(CinefeatError, ValueError):
    """Feature data that cannot be used as asked; the message names the fix."""


class NonFiniteError(DataError):
    """A NaN or infinite feature value; the message names the feature and the trailer."""


def upper_whisker(values: Sequence[float] | np.ndarray) -> float:
    """Q3 + 1.5 IQR, capped at the maximum (the rule for sequence lengths and durations)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise DataError("no values to compute a whisker from; is the split empty?")
    q1, q3 = np.percentile(array, [25, 75])
    return float(min(q3 + 1.5 * (q3 - q1), array.max()))


def storage_dtype(sequences: Sequence[np.ndarray], average: bool = False) -> np.dtype:
    """float16 when every sequence already is float16 (nothing to lose), else float32.

    Averages are new numbers (float64 means), so they are held in float32 whatever the input.
    """
    if not average and all(np.asarray(s).dtype == np.float16 for s in sequences):
        return np.dtype(np.float16)
    return np.dtype(np.float32)


CROPS = ("first", "equidistant", "random")
"""Training-time crops of a sequence longer than the head's max length (`--crop`):

- `first`: its first rows (cinefeat's default before whole-trailer inference, and a batch of any
  size fits in memory);
- `equidistant`: rows `round(linspace(0, n - 1, max_len))`, Sulun et al.'s subsampling
  (`equidistant_indices` in serkansulun/movie-genre-classification `utils.py`, used by
  `classification/src/dataset.py`);
- `random`: a random window of `max_len` consecutive rows, drawn anew every batch
  (`random_window`); the training split is then held whole in memory.

Evaluation and prediction never crop: `max_len=None` pads to the longest sequence.
"""


def crop_indices(length: int, max_len: int, crop: str) -> np.ndarray:
    """Row indices kept of a sequence of `length` rows (all of them when it fits)."""
    if crop not in CROPS:
        raise DataError(f"unknown crop {crop!r}; use one of {', '.join(CROPS)}")
    if length <= max_len or crop == "random":
        return np.arange(length)
    if crop == "equidistant":
        return np.round(np.linspace(0, length - 1, num=max_len)).astype(np.int64)
    return np.arange(max_len)


def pad_sequences(
    sequences: Sequence[np.ndarray],
    max_len: int | None,
    average: bool = False,
    dtype=None,
    crop: str = "first",
) -> tuple[Tensor, Tensor]:
    """List of (n_i, d) arrays -> values (N, L, d) and mask (N, L); L = 1 when averaged.

    `max_len=None` keeps every row (L = the longest sequence): the whole-trailer path of
    `evaluate` and `predict`. Otherwise longer sequences are cut to `max_len` rows by `crop`
    (`crop="random"` keeps them whole: the window is drawn per batch). Averages are always over
    every row. Zero-row sequences are valid and give an all-False mask row. `dtype` defaults to
    `storage_dtype` (float16 only for float16 input), so the same arrays always give the same
    padded values, whoever pads them.
    """
    if not sequences:
        raise DataError("no sequences to pad")
    dtype = storage_dtype(sequences, average) if dtype is None else np.dtype(dtype)
    dim = sequences[0].shape[1]
    longest = max(1, max(len(s) for s in sequences))
    if average:
        length = 1
    elif max_len is None or crop == "random":
        length = longest
    else:
        length = max(1, int(max_len))
    values = np.zeros((len(sequences), length, dim), dtype=dtype)
    mask = np.zeros((len(sequences), length), dtype=bool)
    for row, sequence in enumerate(sequences):
        if sequence.shape[1] != dim:
            raise DataError(f"sequence {row} has dim {sequence.shape[1]}, expected {dim}")
        if len(sequence) == 0:
            continue
        if average:
            values[row, 0] = sequence.astype(np.float64).mean(axis=0)
            mask[row, 0] = True
        else:
            kept = sequence[crop_indices(len(sequence), length, crop)]
            values[row, : len(kept)] = kept
            mask[row, : len(kept)] = True
    return torch.from_numpy(values), torch.from_numpy(mask)


def random_window(
    values: Tensor, mask: Tensor, size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """One random window of `size` consecutive real rows per trailer (the `random` crop).

    Rows are left-aligned (as padding always is), so a trailer of n rows has n - size + 1
    possible windows; a shorter one is kept whole. The start is drawn from `generator` (CPU),
    so a seeded run draws the same windows.
    """
    batch, length = mask.shape
    if length <= size:
        return values, mask
    lengths = mask.sum(dim=1).cpu()
    room = (lengths - size).clamp(min=0) + 1
    starts = (torch.rand(batch, generator=generator) * room).long().to(values.device)
    index = starts.unsqueeze(1) + torch.arange(size, device=values.device)
    window = values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))
    return window, mask.gather(1, index)


@dataclass
class PaddedFeatures:
    """Several features of the same N trailers, padded, with their multi-hot labels and ids.

    The one padded-sequence container of fuse: supervised heads, the zero-shot head (which also
    slices label columns per fold role: `take`) and the similarity tools all consume it.
    `label_names` names the columns of `labels` where the caller knows them.
    """

    values: dict[str, Tensor]
    masks: dict[str, Tensor]
    labels: Tensor
    ids: list[str]
    label_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, tensor in self.values.items():
            mask = self.masks.get(name)
            if tensor.shape[0] != len(self.ids) or mask is None or mask.shape != tensor.shape[:2]:
                raise DataError(f"feature {name!r} does not have one padded row per id")
        if self.labels.shape[0] != len(self.ids):
            raise DataError(f"{self.labels.shape[0]} label rows for {len(self.ids)} ids")
        if self.label_names and len(self.label_names) != self.labels.shape[1]:
            raise DataError(
                f"{len(self.label_names)} label names for {self.labels.shape[1]} label columns"
            )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def feature_dims(self) -> dict[str, int]:
        return {name: int(values.shape[-1]) for name, values in self.values.items()}

    @classmethod
    def from_sequences(
        cls,
        sequences: Mapping[str, Sequence[np.ndarray]],
        labels: np.ndarray,
        ids: Sequence[str],
        max_len: Mapping[str, int] | None,
        average: Sequence[str] = (),
        crop: str = "first",
        label_names: Sequence[str] = (),
    ) -> PaddedFeatures:
        """Pad each feature to `max_len[name]` rows, cut by `crop` (`CROPS`); `max_len=None`
        (or a feature it does not name, or a length of 0) keeps every row of every trailer."""
        values, masks = {}, {}
        for name, rows in sequences.items():
            length = None if max_len is None else (max_len.get(name) or None)
            values[name], masks[name] = pad_sequences(
                rows, length, average=name in average, crop=crop
            )
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
        return cls(values, masks, labels, list(ids), list(label_names))

    def subset(self, indices: Sequence[int] | np.ndarray) -> PaddedFeatures:
        return self.take(indices)

    def take(
        self, indices: Sequence[int] | np.ndarray, labels: Sequence[str] | None = None
    ) -> PaddedFeatures:
        """A subset of trailers and, optionally, of label columns (by name, in that order)."""
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        names, targets = list(self.label_names), self.labels[index]
        if labels is not None:
            position = {name: i for i, name in enumerate(self.label_names)}
            unknown = [n for n in labels if n not in position]
            if unknown:
                raise DataError(f"labels {unknown} are not among {self.label_names}")
            names = list(labels)
            targets = targets[:, torch.as_tensor([position[n] for n in names], dtype=torch.long)]
        return PaddedFeatures(
            {n: v[index] for n, v in self.values.items()},
            {n: m[index] for n, m in self.masks.items()},
            targets,
            [self.ids[i] for i in index.tolist()],
            names,
        )

    def select_ids(self, ids: Sequence[str]) -> PaddedFeatures:
        position = {trailer: i for i, trailer in enumerate(self.ids)}
        unknown = [trailer for trailer in ids if trailer not in position]
        if unknown:
            raise DataError(f"{len(unknown)} ids of the split are not loaded, e.g. {unknown[:3]}")
        return self.subset([position[trailer] for trailer in ids])

    def indexed_batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[Tensor, dict[str, Tensor], dict[str, Tensor], Tensor]]:
        """Like `batches`, each batch led by its row indices (to name trailers in errors)."""
        order = (
            torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        )
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            index = order[start : start + batch_size]
            yield (
                index,
                {n: v[index] for n, v in self.values.items()},
                {n: m[index] for n, m in self.masks.items()},
                self.labels[index],
            )

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[dict[str, Tensor], dict[str, Tensor], Tensor]]:
        for _, inputs, masks, labels in self.indexed_batches(
            batch_size, shuffle, generator, drop_last
        ):
            yield inputs, masks, labels

    def non_finite(self, chunk: int = 256) -> list[tuple[str, str, int, str]]:
        """(feature, trailer id, count, kind) of every trailer whose real rows hold NaN/inf."""
        found = []
        for name, values in self.values.items():
            for start in range(0, len(self), chunk):
                block = values[start : start + chunk]
                real = self.masks[name][start : start + chunk].unsqueeze(-1)
                bad = ~torch.isfinite(block) & real
                counts = bad.flatten(1).sum(dim=1)
                for row in torch.nonzero(counts).flatten().tolist():
                    kind = "NaN" if torch.isnan(block[row]).any() else "inf"
                    found.append((name, self.ids[start + row], int(counts[row]), kind))
        return found

    def require_finite(self, where: str) -> None:
        """NonFiniteError naming the first bad feature and trailer (and how many there are)."""
        bad = self.non_finite()
        if not bad:
            return
        name, trailer, count, kind = bad[0]
        others = f"; {len(bad) - 1} more (feature, trailer) pairs too" if len(bad) > 1 else ""
        raise NonFiniteError(
            f"feature {name!r} of trailer {trailer!r} holds {count} non-finite value(s) ({kind})"
            f"{others}: {where}. Re-extract that trailer, or drop it from the split"
        )


def fit_normalization(data: PaddedFeatures, chunk: int = 256) -> dict[str, tuple[Tensor, Tensor]]:
    """Per-feature float64 mean and std over the *real* steps of the training split only.

    Two passes of float64 sums over chunks of trailers (mean, then squared deviations), so memory
    stays at one chunk (a float64 copy of all of MovieNet's CLIP rows alone would be ~9 GB) and
    large values do not lose the variance to cancellation (sum of squares minus n mean^2).
    """
    data.require_finite("standardisation statistics cannot be computed from the training split")
    stats = {}
    for name, values in data.values.items():
        dim = values.shape[-1]

        def real_rows(start: int, name: str = name, values: Tensor = values) -> Tensor:
            return values[start : start + chunk][data.masks[name][start : start + chunk]].double()

        count, total = 0, torch.zeros(dim, dtype=torch.float64)
        for start in range(0, len(data), chunk):
            real = real_rows(start)
            count += real.shape[0]
            total += real.sum(dim=0)
        if count < 2:
            raise DataError(
                f"feature {name!r} has {count} real rows in the training split; "
                "standardisation needs at least 2 (or train with --no-normalize)"
            )
        mean = total / count
        squares = torch.zeros(dim, dtype=torch.float64)
        for start in range(0, len(data), chunk):
            squares += ((real_rows(start) - mean) ** 2).sum(dim=0)
        std = (squares / (count - 1)).sqrt()
        stats[name] = (mean, torch.where(std > 1e-6, std, 1.0))
    return stats


def prepare_inputs(
    inputs: Mapping[str, Tensor],
    masks: Mapping[str, Tensor],
    normalization: Mapping[str, tuple[Tensor, Tensor]],
    device: torch.device | str,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """float32 on the device, standardised with the head's statistics, padding set to 0.

    The statistics are float64 (fitted so) and applied in float32, the dtype every head computes in.
    """
    prepared, prepared_masks = {}, {}
    for name, values in inputs.items():
        mask = masks[name].to(device, non_blocking=True)
        x = values.to(device, non_blocking=True).float()
        if name in normalization:
            mean, std = normalization[name]
            x = (x - mean.to(device, torch.float32)) / std.to(device, torch.float32)
        prepared[name] = torch.where(mask.unsqueeze(-1), x, torch.zeros((), device=x.device))
        prepared_masks[name] = mask
    return prepared, prepared_masks


def prefetch(batches: Iterator[T], depth: int = 2, pin: bool = False) -> Iterator[T]:
    """Produce batches in a background thread, `depth` ahead of the training step.

    Gathering a batch is tensor indexing, which releases the GIL, so it overlaps with the
    forward/backward pass; with `pin` the batch lands in pinned memory for an asynchronous copy
    to the GPU. Exceptions in the producer are re-raised in the consumer.
    """
    import queue
    import threading

    slots: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if pin:
                    batch = _pin(batch)
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as error:  # handed to the consumer
            slots.put(error)

    worker = threading.Thread(target=produce, daemon=True, name="cinefeat-prefetch")
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _pin(batch: Any) -> Any:
    if isinstance(batch, Tensor):
        return batch.pin_memory()
    if isinstance(batch, dict):
        return {k: _pin(v) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return tuple(_pin(v) for v in batch)
    return batch
