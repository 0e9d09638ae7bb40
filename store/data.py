"""A PyTorch `Dataset` over a store: one padded sequence per modality, with masks and labels.

Each modality is padded or truncated to its own length, because trailers give very different
numbers of rows per modality (scenes for CLIP, text lines for OCR, windows for audio). Lengths
default to the upper whisker (Q3 + 1.5 IQR) of that modality's sequence lengths, as Sulun et al.
did on MovieNet (216 CLIP, 64 OCR, 86 ASR, 140 audio tags, 18 Musicnet): longer outliers are cut
instead of inflating every batch. Items come pre-padded, so `collate` only stacks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from cinefeat.store.errors import LabelError
from cinefeat.store.feature_store import FeatureStore

Truncate = Literal["head", "uniform"]


def whisker_length(lengths: Sequence[int] | np.ndarray) -> int:
    """Q3 + 1.5 IQR of `lengths` rounded up, capped at the longest, and at least 1."""
    values = np.asarray(lengths, dtype=np.float64)
    if values.size == 0:
        return 1
    q1, q3 = np.percentile(values, [25, 75])
    whisker = math.ceil(q3 + 1.5 * (q3 - q1))
    return max(1, min(int(values.max()), whisker))


def pad_rows(
    rows: np.ndarray, length: int, truncate: Truncate = "head"
) -> tuple[np.ndarray, np.ndarray]:
    """(length, dim) float32 and a (length,) bool mask (True = real row)."""
    n, dim = rows.shape
    if n > length:
        if truncate == "uniform":
            keep = np.linspace(0, n - 1, length).round().astype(np.int64)
            rows = rows[keep]
        else:
            rows = rows[:length]
        n = length
    out = np.zeros((length, dim), dtype=np.float32)
    out[:n] = rows
    mask = np.zeros(length, dtype=bool)
    mask[:n] = True
    return out, mask


class SequenceDataset(Dataset):
    """Trailers of a store (or of one subset of a named split) as padded per-modality sequences.

    - `features`: store feature names (modalities), in the order the head expects.
    - `split`/`subset`: a split stored with `store.set_split`; `None` uses every ok trailer.
    - `max_len`: {feature: length} and/or "whisker" (computed from this dataset's lengths); pass
      the training set's `dataset.max_len` to validation and test sets so shapes agree.
    - `average`: features reduced to their mean row (length 1), e.g. a clip-level audio tag.
    - `in_memory`: load each feature once with `store.load_feature` (fast epochs) instead of
      reading every item from disk.
    Trailers without labels are left out when the store has labels (they cannot be trained on);
    a trailer lacking one modality gets an all-False mask for it.
    """

    def __init__(
        self,
        store: FeatureStore,
        features: Sequence[str],
        split: str | None = None,
        subset: str = "train",
        max_len: Mapping[str, int] | Literal["whisker"] = "whisker",
        average: Sequence[str] = (),
        ids: Sequence[str] | None = None,
        truncate: Truncate = "head",
        in_memory: bool = True,
    ) -> None:
        self.store = store
        self.features = list(features)
        if not self.features:
            raise ValueError("SequenceDataset needs at least one feature name")
        missing = sorted(set(self.features) - set(store.features()))
        if missing:
            raise KeyError(
                f"features {missing} are not in {store.path} (it has {store.features()}): "
                "extract them first with `cinefeat extract`"
            )
        unknown_avg = sorted(set(average) - set(self.features))
        if unknown_avg:
            raise ValueError(f"average={unknown_avg} names features not in features={features}")
        self.average = set(average)
        self.truncate = truncate
        self.label_names, self._labels = store.labels()
        self.ids = self._select_ids(split, subset, ids)
        self.dims = {f: int(store.provenance(f)["dim"]) for f in self.features}
        self._lengths = {f: store.lengths(f) for f in self.features}
        self.max_len = self._resolve_lengths(max_len)
        self._memory: dict[str, tuple[np.ndarray, dict[str, tuple[int, int]]]] = {}
        if in_memory:
            for feature in self.features:
                values, _spans, offsets = store.load_feature(feature)
                self._memory[feature] = (values, offsets)

    def _select_ids(self, split: str | None, subset: str, ids: Sequence[str] | None) -> list[str]:
        if ids is not None:
            chosen = list(ids)
        elif split is not None:
            splits = self.store.splits()
            if split not in splits:
                raise LabelError(
                    f"split {split!r} is not in {self.store.path} (it has {sorted(splits)}): "
                    "make one with `store.set_split` or `cinefeat splits`"
                )
            if subset not in splits[split]:
                raise LabelError(
                    f"split {split!r} has no subset {subset!r} (it has {sorted(splits[split])})"
                )
            chosen = list(splits[split][subset])
        else:
            chosen = self.store.ids(status="ok")
        ok = set(self.store.ids(status="ok"))
        having = set().union(*(self.store.committed(f) for f in self.features))
        chosen = [t for t in chosen if t in ok and t in having]
        if self.label_names:
            chosen = [t for t in chosen if t in self._labels]
        return chosen

    def _resolve_lengths(self, max_len: Mapping[str, int] | str) -> dict[str, int]:
        if isinstance(max_len, str) and max_len != "whisker":
            raise ValueError(f"max_len must be a dict or 'whisker', got {max_len!r}")
        given = {} if isinstance(max_len, str) else dict(max_len)
        out: dict[str, int] = {}
        for feature in self.features:
            if feature in self.average:
                out[feature] = 1
            elif feature in given:
                if int(given[feature]) < 1:
                    raise ValueError(f"max_len[{feature!r}] must be >= 1, got {given[feature]}")
                out[feature] = int(given[feature])
            else:
                lengths = self._lengths[feature]
                out[feature] = whisker_length([lengths[t] for t in self.ids if t in lengths])
        return out

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, trailer_id: str, feature: str) -> np.ndarray:
        """All stored rows of one modality (zero rows if the trailer lacks it)."""
        if feature in self._memory:
            values, offsets = self._memory[feature]
            if trailer_id in offsets:
                start, stop = offsets[trailer_id]
                return values[start:stop]
        elif self.store.has(trailer_id, feature):
            return self.store.get(trailer_id, feature).values
        return np.zeros((0, self.dims[feature]), dtype=np.float32)

    def __getitem__(self, i: int) -> dict[str, Any]:
        trailer_id = self.ids[i]
        inputs: dict[str, np.ndarray] = {}
        masks: dict[str, np.ndarray] = {}
        for feature in self.features:
            rows = np.asarray(self.rows(trailer_id, feature), dtype=np.float32)
            if feature in self.average and len(rows):
                rows = rows.mean(axis=0, keepdims=True)
            inputs[feature], masks[feature] = pad_rows(rows, self.max_len[feature], self.truncate)
        labels = self._labels.get(trailer_id)
        target = (
            np.asarray(labels, dtype=np.float32)
            if labels is not None
            else np.zeros(len(self.label_names), dtype=np.float32)
        )
        return {"id": trailer_id, "inputs": inputs, "masks": masks, "labels": target}


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack pre-padded items into one batch.

    Returns {"inputs": {f: (B, L_f, d) float32}, "masks": {f: (B, L_f) bool, True = real row},
    "labels": (B, C) float32, "ids": [trailer ids]}.
    """
    if not items:
        raise ValueError("collate got an empty batch")
    features = list(items[0]["inputs"])
    return {
        "inputs": {
            f: torch.from_numpy(np.stack([it["inputs"][f] for it in items])) for f in features
        },
        "masks": {
            f: torch.from_numpy(np.stack([it["masks"][f] for it in items])) for f in features
        },
        "labels": torch.from_numpy(np.stack([it["labels"] for it in items])),
        "ids": [it["id"] for it in items],
    }
