"""The checks every writer of the store contract makes on what it is handed.

Why one module: the zarr writer (`writer.py`) and the in-memory one (`memory.py`) must refuse the
same inputs with the same errors, or code tested against `MemoryStore` (`cinefeat predict`, the
tests) breaks on disk. Each check raises the store's typed errors with the fix in the message.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from cinefeat.store import layout as L
from cinefeat.store.errors import FeatureDeclarationError, RowsError
from cinefeat.store.record import TrailerRecord
from cinefeat.store.rows import FeatureRows

log = logging.getLogger("cinefeat.store.writer")


def check_declaration(name: str, dim: Any, dtype: str) -> int:
    """Refuse a bad feature name, dtype or dim; -> the dim as an int."""
    L.check_name("feature", name)
    if dtype not in L.VALUE_DTYPES:
        raise FeatureDeclarationError(
            f"feature {name!r}: dtype {dtype!r} is not supported: use one of {L.VALUE_DTYPES}"
        )
    if int(dim) <= 0:
        raise FeatureDeclarationError(f"feature {name!r}: dim must be positive, got {dim}")
    return int(dim)


def check_record(record: object) -> TrailerRecord:
    if not isinstance(record, TrailerRecord):
        raise TypeError(f"add() needs a TrailerRecord, got {type(record).__name__}")
    return record


def undeclared(feature: str, trailer: str) -> FeatureDeclarationError:
    return FeatureDeclarationError(
        f"feature {feature!r} of trailer {trailer!r} was not declared: call "
        f"writer.declare_feature({feature!r}, provenance=..., dim=...) first"
    )


def checked_rows(
    trailer: str, feature: str, rows: FeatureRows, dim: int, dtype: np.dtype
) -> FeatureRows:
    """`rows` with values in the declared dtype (C order) and float64 spans, or an error."""
    if not isinstance(rows, FeatureRows):
        raise TypeError(f"{trailer}/{feature}: expected FeatureRows, got {type(rows).__name__}")
    values = rows.values
    if len(values) == 0:
        values = values.reshape(0, dim)
    if values.ndim != 2:
        raise RowsError(
            f"trailer {trailer!r}, feature {feature!r}: values have shape {values.shape}, not "
            "(rows, dim): give one row per time span"
        )
    if values.shape[1] != dim:
        raise RowsError(
            f"trailer {trailer!r}, feature {feature!r}: rows have dim {values.shape[1]} but "
            f"the feature was declared with dim {dim}: fix the extractor's `dim`"
        )
    if rows.texts is not None and len(rows.texts) != len(values):
        raise RowsError(
            f"trailer {trailer!r}, feature {feature!r}: {len(rows.texts)} texts for "
            f"{len(values)} rows: give one text dict per row, or texts=None"
        )
    with np.errstate(over="ignore"):  # overflow to inf is reported just below
        values = np.ascontiguousarray(values, dtype=dtype)
    if values.size and not np.isfinite(values).all():
        log.warning(
            "trailer %r, feature %r: non-finite values (NaN/Inf) stored as given; "
            "`cinefeat store validate` will report them",
            trailer,
            feature,
        )
    return FeatureRows(values, np.asarray(rows.spans, dtype=np.float64), rows.texts)
