"""Named train/val/test splits and the label/duration filters applied before splitting.

- `sorted-id`: sort the ids and cut 70/10/20 (MovieNet, Sulun et al.): train = round(0.7 N),
  test = round(0.2 N), val = the rest, rounded as their code rounds (serkansulun/
  movie-genre-classification, classification/src/dataset.py: `int(round(len * ratio))` for the
  train and the test index); on MovieNet's 26,412 trailers that is 18,488 / 2,642 / 5,282, on
  1,003 it is 702 / 100 / 201 (flooring would give 702 / 101 / 200).
- `stratified`: iterative stratification for multi-label data (Sechidis et al.), through the
  maintained `iterative-stratification` package: 70/10/20 for each seed (Trailers12k uses three),
  or k folds where fold i is the test set and fold i+1 the validation set.
- `--split-file`: a JSON `{"train": [...], "val": [...], "test": [...]}` or a CSV `id,subset`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from cinefeat.fuse.data import upper_whisker
from cinefeat.store.errors import CinefeatError

SUBSETS = ("train", "val", "test")
Split = dict[str, list[str]]


class SplitError(CinefeatError, ValueError):
    """A split that cannot be made or read; the message names the fix."""


def sorted_id_split(ids: Sequence[str], train: float = 0.7, test: float = 0.2) -> Split:
    ordered = sorted(ids)
    # Python's round() (half to even) on a float product, exactly as the released code does
    n_train, n_test = round(len(ordered) * train), round(len(ordered) * test)
    n_val = len(ordered) - n_train - n_test
    return {
        "train": ordered[:n_train],
        "val": ordered[n_train : n_train + n_val],
        "test": ordered[n_train + n_val :],
    }


def _shuffle_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    rest, held_out = next(splitter.split(np.zeros(len(labels)), labels))
    return rest, held_out


def stratified_split(
    ids: Sequence[str], labels: np.ndarray, seed: int, val: float = 0.1, test: float = 0.2
) -> Split:
    """70/10/20 by iterative stratification: first the test set, then val out of the rest.

    `labels[i]` is the multi-hot row of `ids[i]`; the ids need not be sorted (they are sorted
    together with their rows, so the split does not depend on the order they come in).
    """
    if len(ids) < 10:
        raise SplitError(f"{len(ids)} labelled trailers are too few to stratify 70/10/20")
    labels = np.asarray(labels)
    if len(labels) != len(ids):
        raise SplitError(f"{len(labels)} label rows for {len(ids)} ids")
    order = np.argsort(np.asarray(ids, dtype=str), kind="stable")
    ids, labels = np.asarray(ids, dtype=str)[order], labels[order]
    rest, test_index = _shuffle_split(labels, test, seed)
    train_index, val_index = _shuffle_split(labels[rest], val / (1 - test), seed)
    return {
        "train": sorted(ids[rest][train_index].tolist()),
        "val": sorted(ids[rest][val_index].tolist()),
        "test": sorted(ids[test_index].tolist()),
    }


def stratified_folds(ids: Sequence[str], labels: np.ndarray, folds: int, seed: int) -> list[Split]:
    """k folds by iterative stratification; split i tests on fold i, validates on fold i+1."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    if folds < 3:
        raise SplitError("--folds must be at least 3 (train, val and test each need a fold)")
    labels = np.asarray(labels)
    if len(labels) != len(ids):
        raise SplitError(f"{len(labels)} label rows for {len(ids)} ids")
    order = np.argsort(np.asarray(ids, dtype=str), kind="stable")
    ids, labels = np.asarray(ids, dtype=str)[order], labels[order]
    splitter = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    parts = [held for _, held in splitter.split(np.zeros(len(ids)), labels)]
    splits = []
    for i in range(folds):
        test_part, val_part = parts[i], parts[(i + 1) % folds]
        train_part = np.concatenate(
            [p for j, p in enumerate(parts) if j not in (i, (i + 1) % folds)]
        )
        splits.append(
            {
                "train": sorted(ids[train_part].tolist()),
                "val": sorted(ids[val_part].tolist()),
                "test": sorted(ids[test_part].tolist()),
            }
        )
    return splits


def read_split_file(path: str | Path) -> Split:
    """A JSON object of train/val/test id lists, or CSV rows `id,subset` (optional header)."""
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"split file {path} does not exist")
    if path.suffix.lower() == ".json":
        document = json.loads(path.read_text())
        if not isinstance(document, dict) or "train" not in document:
            raise SplitError(f"{path}: expected a JSON object with train/val/test id lists")
        split = {subset: [str(i) for i in document.get(subset, [])] for subset in SUBSETS}
    else:
        split = {subset: [] for subset in SUBSETS}
        with path.open(newline="") as handle:
            for row in csv.reader(handle):
                if not row or row[0] in ("id", "trailer_id"):
                    continue
                if len(row) < 2 or row[1] not in SUBSETS:
                    raise SplitError(
                        f"{path}: row {row} must be `id,subset` with subset in {SUBSETS}"
                    )
                split[row[1]].append(row[0])
    check_split(split)
    return split


def check_split(split: Mapping[str, Sequence[str]]) -> None:
    seen: dict[str, str] = {}
    for subset in SUBSETS:
        for trailer in split.get(subset, []):
            if trailer in seen:
                raise SplitError(f"id {trailer!r} is in both {seen[trailer]!r} and {subset!r}")
            seen[trailer] = subset


def top_labels(label_names: Sequence[str], labels: np.ndarray, count: int) -> list[int]:
    """Indices of the `count` most frequent labels (ties by name, for a stable order).

    Counts in int64: store labels are uint8, whose column sums are unsigned (uint64), and the
    negation of an unsigned 0 is 0 while that of 3 wraps to a huge number, so a label with no
    positive would sort first. Labels with no positive at all are never kept.
    """
    frequency = np.asarray(labels).astype(np.int64).sum(axis=0)
    order = sorted(range(len(label_names)), key=lambda c: (-frequency[c], label_names[c]))
    return sorted(c for c in order[:count] if frequency[c] > 0)


def duration_inliers(durations: Mapping[str, float]) -> tuple[list[str], tuple[float, float]]:
    """Ids whose duration lies in Q1 - 1.5 IQR .. Q3 + 1.5 IQR (19.6 s .. 214.4 s on MovieNet)."""
    values = np.asarray(list(durations.values()), dtype=np.float64)
    if values.size == 0:
        raise SplitError("no durations to filter on: the store's records carry duration_s")
    q1, q3 = np.percentile(values, [25, 75])
    low = max(float(q1 - 1.5 * (q3 - q1)), float(values.min()))
    high = upper_whisker(values)
    kept = [trailer for trailer, d in durations.items() if low <= d <= high]
    return kept, (low, high)
