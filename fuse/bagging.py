"""Bagged, random-subspace ensemble members (`train --ensemble K --bootstrap --subspace F`).

Why: on small tabular data a random forest beats one neural head mainly by variance reduction,
and its members are decorrelated by two draws that a seed ensemble lacks: each tree sees a
bootstrap sample of the rows (bagging, Breiman 1996) and a random part of the features (the
random subspace method, Ho 1998). Seed-only ensembles of the `mlp` head did not gain on MULAN
emotions (docs/bench-heads.md); the same two draws per member do.

Each member draws, from a generator seeded with its own seed, (a) with `bootstrap` as many
training rows as there are, with replacement, and (b) with `subspace < 1` that fraction of the
columns of every feature (at least one). The columns are recorded in the member's head config
(`HeadConfig.columns`), so prediction reads exactly the subspace the member was trained on; the
validation split is never resampled, so early stopping and `--refit`'s epoch choice stay honest.
"""

from __future__ import annotations

import numpy as np

from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.heads import FeatureSpec, Head
from cinefeat.fuse.heads.base import check_columns
from cinefeat.store.errors import CinefeatError


class BaggingError(CinefeatError, ValueError):
    """A bootstrap or subspace option that cannot work; the message names the fix."""


def check_subspace(fraction: float) -> None:
    if not 0.0 < fraction <= 1.0:
        raise BaggingError(f"--subspace {fraction} must be in (0, 1]: the share of columns kept")


def draw_columns(
    features: list[FeatureSpec], fraction: float, rng: np.random.Generator
) -> dict[str, list[int]]:
    """Sorted column indices per feature, `round(fraction * dim)` of them (at least 1); {} when
    `fraction` is 1 (the whole feature)."""
    check_subspace(fraction)
    if fraction >= 1.0:
        return {}
    columns = {}
    for spec in features:
        count = max(1, round(fraction * spec.dim))
        columns[spec.name] = sorted(int(c) for c in rng.choice(spec.dim, count, replace=False))
    return columns


def bootstrap_rows(data: PaddedFeatures, rng: np.random.Generator) -> PaddedFeatures:
    """A bootstrap sample of `data`: len(data) trailers drawn with replacement."""
    if len(data) == 0:
        raise BaggingError("--bootstrap needs a non-empty training split")
    return data.subset(rng.integers(0, len(data), len(data)))


def restrict(head: Head, columns: dict[str, list[int]]) -> Head:
    """`head` reading only `columns` (recorded in its config, so saved with it); {}: unchanged."""
    if columns:
        check_columns(columns, head.features)
        head.config.columns = columns
    return head
