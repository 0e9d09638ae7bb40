"""Late fusion of two trained heads, Cai et al.'s HT-FA: p = w p_a + (1 - w) p_b.

The weight w is chosen on the validation split in steps of 0.01 by macro AP, then applied
unchanged to the test split (never picked on test).
"""

from __future__ import annotations

import numpy as np

from cinefeat.fuse.metrics import macro_ap


def fuse(p_a: np.ndarray, p_b: np.ndarray, weight: float) -> np.ndarray:
    return weight * p_a + (1.0 - weight) * p_b


def pick_weight(p_a: np.ndarray, p_b: np.ndarray, y_val: np.ndarray, step: float = 0.01) -> float:
    """The w in 0, step, ..., 1 with the best validation macro AP (the smallest w on ties)."""
    grid = np.round(np.arange(0.0, 1.0 + step / 2, step), 10)
    scores = [macro_ap(y_val, fuse(p_a, p_b, w)) for w in grid]
    return float(grid[int(np.nanargmax(scores))])
