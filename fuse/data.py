"""Padded feature tensors in memory, and batches from them, for training and evaluation.

A head's training set is small enough to hold (MovieNet: 18k trailers), so every feature is padded
once to its max length (the upper-whisker rule or an explicit cap) and batches are index slices:
the data loader costs a gather per batch, not a Python loop per trailer. Values stay float16 in
memory and become float32 per batch, after standardisation with the head's statistics.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

T = TypeVar("T")


class DataError(ValueError):
    """Feature data that cannot be used as asked; the message names the fix."""


def upper_whisker(values: Sequence[float] | np.ndarray) -> float:
    """Q3 + 1.5 IQR, capped at the maximum (the rule for sequence lengths and durations)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise DataError("no values to compute a whisker from; is the split empty?")
    q1, q3 = np.percentile(array, [25, 75])
    return float(min(q3 + 1.5 * (q3 - q1), array.max()))


def pad_sequences(
    sequences: Sequence[np.ndarray], max_len: int, average: bool = False, dtype=np.float16
) -> tuple[Tensor, Tensor]:
    """List of (n_i, d) arrays -> values (N, L, d) and mask (N, L); L = 1 when averaged.

    Longer sequences keep their first `max_len` rows (as the papers do); zero-row sequences are
    valid and give an all-False mask row.
    """
    if not sequences:
        raise DataError("no sequences to pad")
    dim = sequences[0].shape[1]
    length = 1 if average else max(1, int(max_len))
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
            kept = sequence[:length]
            values[row, : len(kept)] = kept
            mask[row, : len(kept)] = True
    return torch.from_numpy(values), torch.from_numpy(mask)


@dataclass
class PaddedFeatures:
    """Several features of the same N trailers, padded, with their multi-hot labels and ids."""

    values: dict[str, Tensor]
    masks: dict[str, Tensor]
    labels: Tensor
    ids: list[str]

    def __post_init__(self) -> None:
        for name, tensor in self.values.items():
            if tensor.shape[0] != len(self.ids) or self.masks[name].shape != tensor.shape[:2]:
                raise DataError(f"feature {name!r} does not have one padded row per id")
        if self.labels.shape[0] != len(self.ids):
            raise DataError(f"{self.labels.shape[0]} label rows for {len(self.ids)} ids")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_sequences(
        cls,
        sequences: Mapping[str, Sequence[np.ndarray]],
        labels: np.ndarray,
        ids: Sequence[str],
        max_len: Mapping[str, int],
        average: Sequence[str] = (),
    ) -> PaddedFeatures:
        values, masks = {}, {}
        for name, rows in sequences.items():
            length = max_len.get(name, max((len(r) for r in rows), default=1))
            values[name], masks[name] = pad_sequences(rows, length, average=name in average)
        return cls(
            values, masks, torch.as_tensor(np.asarray(labels), dtype=torch.float32), list(ids)
        )

    def subset(self, indices: Sequence[int] | np.ndarray) -> PaddedFeatures:
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return PaddedFeatures(
            {n: v[index] for n, v in self.values.items()},
            {n: m[index] for n, m in self.masks.items()},
            self.labels[index],
            [self.ids[i] for i in index.tolist()],
        )

    def select_ids(self, ids: Sequence[str]) -> PaddedFeatures:
        position = {trailer: i for i, trailer in enumerate(self.ids)}
        unknown = [trailer for trailer in ids if trailer not in position]
        if unknown:
            raise DataError(f"{len(unknown)} ids of the split are not loaded, e.g. {unknown[:3]}")
        return self.subset([position[trailer] for trailer in ids])

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[dict[str, Tensor], dict[str, Tensor], Tensor]]:
        order = (
            torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        )
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            index = order[start : start + batch_size]
            yield (
                {n: v[index] for n, v in self.values.items()},
                {n: m[index] for n, m in self.masks.items()},
                self.labels[index],
            )


def fit_normalization(data: PaddedFeatures, chunk: int = 256) -> dict[str, tuple[Tensor, Tensor]]:
    """Per-feature mean and std over the *real* steps of the training split only.

    Accumulates float64 sums over chunks of trailers, so memory stays at one chunk (a float64
    copy of all of MovieNet's CLIP rows alone would be ~9 GB).
    """
    stats = {}
    for name, values in data.values.items():
        dim = values.shape[-1]
        count, total, squares = (
            0,
            torch.zeros(dim, dtype=torch.float64),
            torch.zeros(dim, dtype=torch.float64),
        )
        for start in range(0, len(data), chunk):
            real = values[start : start + chunk][data.masks[name][start : start + chunk]].double()
            count += real.shape[0]
            total += real.sum(dim=0)
            squares += (real * real).sum(dim=0)
        if count < 2:
            raise DataError(
                f"feature {name!r} has {count} real rows in the training split; "
                "standardisation needs at least 2 (or train with --no-normalize)"
            )
        mean = total / count
        variance = ((squares - count * mean * mean) / (count - 1)).clamp(min=0.0)
        std = variance.sqrt()
        stats[name] = (mean.float(), torch.where(std > 1e-6, std, 1.0).float())
    return stats


def prepare_inputs(
    inputs: Mapping[str, Tensor],
    masks: Mapping[str, Tensor],
    normalization: Mapping[str, tuple[Tensor, Tensor]],
    device: torch.device | str,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """float32 on the device, standardised with the head's statistics, padding set to 0."""
    prepared, prepared_masks = {}, {}
    for name, values in inputs.items():
        mask = masks[name].to(device, non_blocking=True)
        x = values.to(device, non_blocking=True).float()
        if name in normalization:
            mean, std = normalization[name]
            x = (x - mean.to(device)) / std.to(device)
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
