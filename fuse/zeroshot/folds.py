"""Label folds for multi-label zero-shot evaluation (the greedy split of Dogan et al.).

Zero-shot means the labels of the test fold were never trained on, and the threshold M was chosen
on a third set of labels, so train, validation and test *labels* are disjoint. A trailer has several
labels, so labels that often occur together go into the same fold: otherwise most trailers would
carry labels of two folds and would have to be dropped. The greedy split seeds each of the three
folds with one of the three rarest labels, then fills the folds one after the other (sizes differ
by at most one label): a fold repeatedly takes the remaining label that co-occurs most with the
label it added last, until it is full; the last fold takes what is left. Filling one fold at a time
(rather than round robin) keeps chains of co-occurring labels together, which is the point.

Trailers are then assigned to the fold that holds *all* of their labels; trailers whose labels
straddle folds are left out (and counted), so that no test trailer was ever seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cinefeat.store.errors import CinefeatError

ROLES = ("train", "val", "test")


class FoldError(CinefeatError, ValueError):
    """Labels that cannot be split into zero-shot folds; the message names the fix."""


@dataclass(frozen=True)
class ZeroShotSplit:
    """One rotation of the three label folds: disjoint label names and trailer indices per role."""

    labels: dict[str, list[str]]
    trailers: dict[str, np.ndarray]
    dropped: int  # trailers whose labels straddle two or more folds


def greedy_label_folds(targets: np.ndarray, names: list[str], n_folds: int = 3) -> list[list[str]]:
    """Partition label names into `n_folds` folds by the paper's greedy co-occurrence rule.

    Ties on co-occurrence with the last label go to the label that co-occurs most with the whole
    fold so far, then to the rarer label, then to the earlier name: the split is deterministic.
    """
    targets = np.asarray(targets) > 0.5
    if targets.ndim != 2 or targets.shape[1] != len(names):
        raise FoldError(f"targets {targets.shape} must be (trailers, {len(names)} labels)")
    if len(names) < n_folds:
        raise FoldError(
            f"{len(names)} labels cannot fill {n_folds} folds: zero-shot needs at least "
            f"{n_folds} labels (train, validation, test)"
        )
    counts = targets.sum(axis=0).astype(np.int64)
    cooccur = targets.T.astype(np.int64) @ targets.astype(np.int64)
    by_rarity = sorted(range(len(names)), key=lambda c: (counts[c], names[c]))
    folds = [[c] for c in by_rarity[:n_folds]]
    remaining = set(by_rarity[n_folds:])
    sizes = [len(names) // n_folds + (1 if k < len(names) % n_folds else 0) for k in range(n_folds)]
    for fold, size in zip(folds, sizes, strict=True):
        while remaining and len(fold) < size:
            last = fold[-1]
            best = min(
                remaining,
                key=lambda c, fold=fold, last=last: (
                    -cooccur[last, c],
                    -int(cooccur[fold, c].sum()),
                    counts[c],
                    names[c],
                ),
            )
            fold.append(best)
            remaining.remove(best)
    return [[names[c] for c in fold] for fold in folds]


def zero_shot_split(
    targets: np.ndarray, names: list[str], folds: list[list[str]], rotation: int = 0
) -> ZeroShotSplit:
    """Roles for one rotation: fold `rotation` trains, the next validates, the one after tests."""
    if len(folds) != 3:
        raise FoldError(f"zero-shot splits need 3 label folds (train/val/test), got {len(folds)}")
    targets = np.asarray(targets) > 0.5
    position = {name: i for i, name in enumerate(names)}
    roles = {role: folds[(rotation + k) % 3] for k, role in enumerate(ROLES)}
    in_role = {
        role: targets[:, [position[n] for n in labels]].any(axis=1)
        for role, labels in roles.items()
    }
    n_roles = sum(mask.astype(np.int64) for mask in in_role.values())
    trailers = {role: np.flatnonzero(in_role[role] & (n_roles == 1)) for role in ROLES}
    empty = [role for role in ROLES if len(trailers[role]) == 0]
    if empty:
        # an empty fold used to reach training or evaluation and end in a traceback there
        detail = "; ".join(f"{role} labels {roles[role]}" for role in empty)
        raise FoldError(
            f"rotation {rotation} leaves no trailer for the {' and '.join(empty)} fold(s) "
            f"({detail}): no trailer carries only labels of that fold "
            f"({int((n_roles > 1).sum())} straddle folds, {int((n_roles == 0).sum())} have no "
            "label). Use more trailers, fewer or broader labels, or another --rotation"
        )
    return ZeroShotSplit(
        labels={role: list(labels) for role, labels in roles.items()},
        trailers=trailers,
        dropped=int((n_roles > 1).sum()),
    )
