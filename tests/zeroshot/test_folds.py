"""Greedy zero-shot label folds: a hand-made co-occurrence pattern with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from cinefeat.fuse.zeroshot.folds import FoldError, greedy_label_folds, zero_shot_split

NAMES = ["a", "b", "c", "d", "e", "f"]


def trailers(*rows: tuple[str, ...]) -> np.ndarray:
    targets = np.zeros((len(rows), len(NAMES)), dtype=np.float32)
    for i, labels in enumerate(rows):
        targets[i, [NAMES.index(n) for n in labels]] = 1
    return targets


# counts a=1 b=2 c=3 d=4 e=5 f=6; a goes with f, b with e, c with d
PAIRED = trailers(
    ("a", "f"), *[("b", "e")] * 2, *[("c", "d")] * 3, *[("f",)] * 5, *[("e",)] * 3, ("d",)
)


def test_greedy_folds_seed_with_rarest_and_follow_cooccurrence() -> None:
    assert greedy_label_folds(PAIRED, NAMES) == [["a", "f"], ["b", "e"], ["c", "d"]]


def test_split_roles_are_disjoint_and_rotate() -> None:
    folds = greedy_label_folds(PAIRED, NAMES)
    for rotation in range(3):
        split = zero_shot_split(PAIRED, NAMES, folds, rotation)
        labels = split.labels
        assert labels["train"] == folds[rotation]
        assert labels["test"] == folds[(rotation + 2) % 3]
        assert not set(labels["train"]) & set(labels["val"])
        assert not set(labels["val"]) & set(labels["test"])
        assert split.dropped == 0
    split = zero_shot_split(PAIRED, NAMES, folds, 0)
    # trailers of "a"/"f": rows 0 and 6..10; of "c"/"d": rows 3..5 and 14
    assert split.trailers["train"].tolist() == [0, 6, 7, 8, 9, 10]
    assert split.trailers["test"].tolist() == [3, 4, 5, 14]


def test_trailer_with_labels_of_two_folds_is_dropped_and_counted() -> None:
    targets = np.vstack([PAIRED, trailers(("a", "c"))])
    split = zero_shot_split(targets, NAMES, [["a", "f"], ["b", "e"], ["c", "d"]], 0)
    assert split.dropped == 1
    last = len(targets) - 1
    assert all(last not in rows for rows in split.trailers.values())


def test_too_few_labels_is_a_typed_error() -> None:
    with pytest.raises(FoldError, match="at least 3 labels"):
        greedy_label_folds(np.ones((4, 2)), ["a", "b"])


def test_a_fold_without_trailers_is_a_clear_error_not_a_traceback() -> None:
    """Every trailer of the val labels (b, e) also carries a train label: the val fold is empty.
    That used to reach training / evaluation and end in a raw traceback."""
    targets = trailers(("a", "f"), ("a", "b"), ("f", "e"), ("c", "d"), ("d",))
    with pytest.raises(FoldError, match=r"no trailer for the val fold.*\['b', 'e'\]"):
        zero_shot_split(targets, NAMES, [["a", "f"], ["b", "e"], ["c", "d"]], 0)
