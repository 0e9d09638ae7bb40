"""`FeatureRows`: the unit that flows from an extractor into the store and out to the heads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class FeatureRows:
    """Rows of one feature for one trailer: `values` (n, dim) and `spans` (n, 2) in seconds.

    `texts` optionally keeps the text each row came from (OCR lines, ASR segments) so a user can
    re-encode with another text model without rerunning recognition. Zero rows is valid.
    """

    values: np.ndarray
    spans: np.ndarray
    texts: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values)
        self.spans = np.asarray(self.spans, dtype=np.float64).reshape(-1, 2)
        if self.values.ndim != 2:
            raise ValueError(f"values must be 2-D (rows, dim), got shape {self.values.shape}")
        if len(self.values) != len(self.spans):
            raise ValueError(
                f"{len(self.values)} value rows but {len(self.spans)} spans: every row needs a span"
            )

    def __len__(self) -> int:
        return len(self.values)
