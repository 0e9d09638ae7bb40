"""`MemoryStore`: the store contract held in memory, for one-off work that keeps nothing on disk.

Why: `cinefeat predict` extracts the features of a few videos, applies a head and throws the
features away. Writing a Zarr store to a temporary folder for that would cost file churn and leave
debris behind when the process is killed. `MemoryStore` implements the part of `FeatureStore` that
an extraction run uses (`has`, `record`, `refresh`, `writer()` with `declare_feature`, `add`,
`commit`) and the reads a head needs (`ids`, `get`, `provenance`, `texts`), with the same checks on
what is written (declared features, dims, one add per trailer, provenance that agrees), so code
written against it behaves the same on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any

import numpy as np

from cinefeat.store.errors import FeatureDeclarationError, RowsError
from cinefeat.store.provenance import complete_provenance, incompatibilities
from cinefeat.store.record import TrailerRecord
from cinefeat.store.rows import FeatureRows
from cinefeat.store.write_checks import check_declaration, check_record, checked_rows, undeclared


class MemoryStore:
    """Trailers, records and feature rows in dictionaries; nothing touches the disk."""

    path = None
    read_only = False

    def __init__(self) -> None:
        self._provenance: dict[str, dict[str, Any]] = {}
        self._records: dict[str, TrailerRecord] = {}
        self._rows: dict[str, dict[str, FeatureRows]] = {}
        self._run_configs: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(trailers={len(self._records)}, features={self.features()})"

    # -- what an extraction run asks -------------------------------------------------------------

    def refresh(self) -> None:
        """Nothing to re-read: every commit is visible at once."""

    def has(self, trailer_id: str, feature: str) -> bool:
        return feature in self._rows.get(trailer_id, {})

    def record(self, trailer_id: str) -> TrailerRecord:
        try:
            return self._records[trailer_id]
        except KeyError:
            raise KeyError(f"no trailer {trailer_id!r} in this in-memory store") from None

    def writer(
        self,
        run: str = "memory",
        worker: str = "0",
        part: str | None = None,
        run_config: dict[str, Any] | None = None,
    ) -> MemoryWriter:
        """The store contract's writer (`run_config` is kept: `run_configs()`)."""
        if run_config is not None:
            self._run_configs[run] = dict(run_config)
        return MemoryWriter(self)

    def run_configs(self) -> dict[str, dict[str, Any]]:
        return dict(self._run_configs)

    # -- reads -----------------------------------------------------------------------------------

    def ids(self, status: str | None = None) -> list[str]:
        return sorted(t for t, r in self._records.items() if status is None or r.status == status)

    def __contains__(self, trailer_id: object) -> bool:
        return trailer_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def features(self) -> list[str]:
        return sorted(self._provenance)

    def provenance(self, feature: str) -> dict[str, Any]:
        if feature not in self._provenance:
            raise KeyError(f"no feature {feature!r}; this store has {self.features()}")
        return dict(self._provenance[feature])

    def get(self, trailer_id: str, feature: str) -> FeatureRows:
        rows = self._rows.get(trailer_id, {}).get(feature)
        if rows is None:
            raise KeyError(f"trailer {trailer_id!r} has no committed rows of feature {feature!r}")
        return rows

    def __getitem__(self, trailer_id: str) -> dict[str, FeatureRows]:
        if trailer_id not in self._records:
            raise KeyError(f"no trailer {trailer_id!r} in this in-memory store")
        return dict(self._rows.get(trailer_id, {}))

    def texts(self, trailer_id: str, feature: str) -> list[dict[str, Any]]:
        return list(self.get(trailer_id, feature).texts or [])


class MemoryWriter:
    """The `StoreWriter` protocol over a `MemoryStore`: queued trailers appear on `commit()`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._declared: dict[str, tuple[int, np.dtype]] = {}
        self._pending: list[tuple[TrailerRecord, dict[str, FeatureRows]]] = []
        self._added: set[str] = set()
        self._closed = False

    def declare_feature(
        self,
        name: str,
        provenance: dict[str, Any],
        dim: int,
        dtype: str = "float16",
        row_chunk: int | None = None,
    ) -> None:
        dim = check_declaration(name, dim, dtype)
        full = complete_provenance(provenance, dim, dtype)
        known = self.store._provenance.get(name)
        if known is not None:
            problems = incompatibilities(known, full)
            if problems:
                raise FeatureDeclarationError(
                    f"feature {name!r} already exists with different provenance "
                    f"({'; '.join(problems)}): use a new feature name"
                )
        self.store._provenance[name] = full
        self._declared[name] = (dim, np.dtype(dtype))

    def add(self, record: TrailerRecord, features: dict[str, FeatureRows] | None = None) -> None:
        if self._closed:
            raise RowsError("this in-memory writer is closed: open a new store.writer()")
        check_record(record)
        if record.id in self._added:
            raise RowsError(f"trailer {record.id!r} was already added to this writer")
        checked = {}
        for feature, rows in (features or {}).items():
            if feature not in self._declared:
                raise undeclared(feature, record.id)
            dim, dtype = self._declared[feature]
            checked[feature] = checked_rows(record.id, feature, rows, dim, dtype)
        self._pending.append((record, checked))
        self._added.add(record.id)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def commit(self) -> int:
        """Publish the pending trailers; rows of a feature a trailer already has are refused
        (a resumed run must compute only what is missing, never a second copy)."""
        for record, features in self._pending:
            twice = [f for f in features if self.store.has(record.id, f)]
            if twice:
                raise RowsError(
                    f"trailer {record.id!r} already has committed rows of {twice}: compute only "
                    "the features it lacks"
                )
        for record, features in self._pending:
            self.store._records[record.id] = record
            self.store._rows.setdefault(record.id, {}).update(features)
        count = len(self._pending)
        self._pending.clear()
        return count

    def close(self) -> None:
        self.commit()
        self._closed = True

    def __enter__(self) -> MemoryWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
