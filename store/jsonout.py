"""JSON that every parser reads: non-finite floats become null, never a bare NaN.

Python's `json.dumps` writes `NaN` and `Infinity` by default, which is not JSON (RFC 8259) and
breaks `jq`, JavaScript and most other readers. Metrics that are undefined (macro AP without a
validation split, samples AP without a trailer with a positive) are NaN in memory; on disk and on
stdout they are `null`, and `allow_nan=False` guarantees that nothing else slips through.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def finite_or_none(value: Any) -> Any:
    """`value` with every NaN/inf float (also numpy scalars, nested) replaced by None."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite_or_none(value.tolist())
    return value


def json_text(value: Any, indent: int | None = 2, **options: Any) -> str:
    """`json.dumps` of `value` with undefined numbers as null; raises rather than write NaN."""
    import json

    return json.dumps(finite_or_none(value), indent=indent, allow_nan=False, **options)
