"""`StoreWriter`: appends trailers to one part of a store and commits them atomically per batch.

Why parts: zarr has no locking, so two processes appending to one array lose rows. Every writer
(process, GPU worker, machine) therefore owns a fresh part `parts/<run>-<worker>-<pid>-<uid>/`
that nobody else touches. Why the commit attribute: a batch first appends its rows and index
entries beyond the committed counts, and only then rewrites the part's `commit` attribute (one
atomic file replace by zarr's local store). Readers slice every array to the committed counts,
so a writer killed mid-batch leaves an invisible tail, and a rerun writes into a new part.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr

from cinefeat.store import layout as L
from cinefeat.store.arrays import (
    append_all,
    as_objects,
    create_feature_arrays,
    create_part,
    empty_commit,
)
from cinefeat.store.errors import FeatureDeclarationError, RowsError
from cinefeat.store.provenance import complete_provenance, incompatibilities
from cinefeat.store.record import TrailerRecord
from cinefeat.store.rows import FeatureRows
from cinefeat.store.textcodec import encode_texts

if TYPE_CHECKING:
    from cinefeat.store.feature_store import FeatureStore

log = logging.getLogger(__name__)


@dataclass
class _Declared:
    group: zarr.Group
    dim: int
    dtype: np.dtype
    provenance: dict[str, Any]
    values: zarr.Array
    spans: zarr.Array
    ids: zarr.Array
    offsets: zarr.Array
    texts: zarr.Array


@dataclass
class _Pending:
    record: TrailerRecord
    features: dict[str, FeatureRows] = field(default_factory=dict)


class StoreWriter:
    """Writes trailers into its own new part; `commit()` publishes everything added since.

    Use as a context manager: leaving the `with` block commits what is pending (also when the
    block raises, since every `add` holds a complete trailer). One writer per process or worker.
    """

    def __init__(self, store: FeatureStore, run: str, worker: str, part: str | None = None) -> None:
        L.check_name("run", run)
        L.check_name("worker", worker)
        self.store = store
        self.name = part or f"{run}-{worker}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        L.check_name("part", self.name)
        root = store.writable_root()
        self.group = create_part(root.require_group(L.PARTS), self.name, run, worker)
        trailers = self.group[L.TRAILERS]
        self._trailers = {
            name: L.dense(trailers[name])
            for name in (
                L.TRAILER_IDS,
                L.TRAILER_RECORDS,
                L.TRAILER_STATUS,
                L.TRAILER_COMMITTED_AT,
            )
        }
        self._declared: dict[str, _Declared] = {}
        self._pending: list[_Pending] = []
        self._pending_ids: set[str] = set()
        self._written_ids: set[str] = set()
        self._commit = empty_commit()
        self._closed = False

    # -- declaring -------------------------------------------------------------------------------

    def declare_feature(
        self,
        name: str,
        provenance: dict[str, Any],
        dim: int,
        dtype: str = "float16",
        row_chunk: int | None = None,
    ) -> None:
        """Create the feature's arrays in this part; refuse provenance contradicting the store."""
        L.check_name("feature", name)
        if dtype not in L.VALUE_DTYPES:
            raise FeatureDeclarationError(
                f"feature {name!r}: dtype {dtype!r} is not supported: use one of {L.VALUE_DTYPES}"
            )
        if int(dim) <= 0:
            raise FeatureDeclarationError(f"feature {name!r}: dim must be positive, got {dim}")
        full = complete_provenance(provenance, int(dim), dtype)
        existing = self._declared.get(name)
        if existing is not None:
            problems = incompatibilities(existing.provenance, full)
            if problems:
                raise FeatureDeclarationError(
                    f"feature {name!r} was already declared in this writer with other settings "
                    f"({'; '.join(problems)}): declare each feature once"
                )
            return
        if name in self.store.features():
            problems = incompatibilities(self.store.provenance(name), full)
            if problems:
                raise FeatureDeclarationError(
                    f"feature {name!r} already exists in {self.store.path} with different "
                    f"provenance ({'; '.join(problems)}): store it under a new feature name "
                    "or in a new store"
                )
        group = create_feature_arrays(self.group, name, int(dim), dtype, full, row_chunk)
        self._declared[name] = _Declared(
            group=group,
            dim=int(dim),
            dtype=np.dtype(dtype),
            provenance=full,
            values=L.dense(group[L.VALUES]),
            spans=L.dense(group[L.SPANS]),
            ids=L.dense(group[L.ENTRY_IDS]),
            offsets=L.dense(group[L.OFFSETS]),
            texts=L.dense(group[L.TEXTS]),
        )

    # -- adding ----------------------------------------------------------------------------------

    def add(self, record: TrailerRecord, features: dict[str, FeatureRows] | None = None) -> None:
        """Queue one complete trailer (its record and any of its declared features)."""
        if self._closed:
            raise RowsError(f"writer of part {self.name} is closed: open a new store.writer()")
        if not isinstance(record, TrailerRecord):
            raise TypeError(f"add() needs a TrailerRecord, got {type(record).__name__}")
        if record.id in self._pending_ids or record.id in self._written_ids:
            raise RowsError(
                f"trailer {record.id!r} was already added to part {self.name}: add each trailer "
                "once per writer, with all the features this run computes for it"
            )
        checked: dict[str, FeatureRows] = {}
        for feature, rows in (features or {}).items():
            declared = self._declared.get(feature)
            if declared is None:
                raise FeatureDeclarationError(
                    f"feature {feature!r} of trailer {record.id!r} was not declared: call "
                    f"writer.declare_feature({feature!r}, provenance=..., dim=...) first"
                )
            checked[feature] = self._checked_rows(record.id, feature, rows, declared)
        self._pending.append(_Pending(record, checked))
        self._pending_ids.add(record.id)

    def _checked_rows(
        self, trailer: str, feature: str, rows: FeatureRows, declared: _Declared
    ) -> FeatureRows:
        if not isinstance(rows, FeatureRows):
            raise TypeError(f"{trailer}/{feature}: expected FeatureRows, got {type(rows).__name__}")
        values = rows.values
        if len(values) == 0:
            values = values.reshape(0, declared.dim)
        if values.shape[1] != declared.dim:
            raise RowsError(
                f"trailer {trailer!r}, feature {feature!r}: rows have dim {values.shape[1]} but "
                f"the feature was declared with dim {declared.dim}: fix the extractor's `dim`"
            )
        if rows.texts is not None and len(rows.texts) != len(values):
            raise RowsError(
                f"trailer {trailer!r}, feature {feature!r}: {len(rows.texts)} texts for "
                f"{len(values)} rows: give one text dict per row, or texts=None"
            )
        with np.errstate(over="ignore"):  # overflow to inf is reported just below
            values = np.ascontiguousarray(values, dtype=declared.dtype)
        if values.size and not np.isfinite(values).all():
            log.warning(
                "trailer %r, feature %r: non-finite values (NaN/Inf) stored as given; "
                "`cinefeat store validate` will report them",
                trailer,
                feature,
            )
        return FeatureRows(values, np.asarray(rows.spans, dtype=np.float64), rows.texts)

    # -- committing ------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._pending)

    def commit(self) -> int:
        """Make every trailer added since the last commit visible; returns how many.

        Order matters: feature rows and entries, then the trailer index, then the commit point.
        Each step's array writes run concurrently (one round trip through zarr's event loop).
        """
        if not self._pending:
            return 0
        commit = {
            "sequence": self._commit["sequence"] + 1,
            "time": time.time(),
            "trailers": self._commit["trailers"] + len(self._pending),
            "features": {k: dict(v) for k, v in self._commit["features"].items()},
        }
        self._write_features(commit["features"])
        self._write_trailer_index(commit["time"])
        self.group.attrs[L.COMMIT_ATTR] = commit  # the commit point: one atomic metadata write
        count = len(self._pending)
        self._commit = commit
        self._written_ids |= self._pending_ids
        self._pending.clear()
        self._pending_ids.clear()
        self.store.refresh()
        return count

    def _write_features(self, counts: dict[str, dict[str, int]]) -> None:
        jobs: list[tuple[zarr.Array, int, np.ndarray]] = []
        for name, declared in self._declared.items():
            feature_counts = counts.setdefault(name, {"entries": 0, "rows": 0})
            jobs += self._feature_jobs(declared, name, feature_counts)
        append_all(jobs)

    def _write_trailer_index(self, when: float) -> None:
        k0 = self._commit["trailers"]
        records = [p.record for p in self._pending]
        append_all(
            [
                (self._trailers[L.TRAILER_IDS], k0, as_objects([r.id for r in records])),
                (self._trailers[L.TRAILER_RECORDS], k0, as_objects([r.to_json() for r in records])),
                (self._trailers[L.TRAILER_STATUS], k0, as_objects([r.status for r in records])),
                (
                    self._trailers[L.TRAILER_COMMITTED_AT],
                    k0,
                    np.full(len(records), when, dtype=np.float64),
                ),
            ]
        )

    def _feature_jobs(
        self, declared: _Declared, name: str, counts: dict[str, int]
    ) -> list[tuple[zarr.Array, int, np.ndarray]]:
        """The appends of one feature's pending rows; updates `counts` to include them."""
        batch = [(p.record.id, p.features[name]) for p in self._pending if name in p.features]
        if not batch:
            return []
        row0, entry0 = counts["rows"], counts["entries"]
        lengths = np.array([len(rows) for _, rows in batch], dtype=np.int64)
        stops = row0 + np.cumsum(lengths)
        offsets = np.stack([stops - lengths, stops], axis=1)
        counts["rows"] = int(stops[-1])
        counts["entries"] = entry0 + len(batch)
        return [
            (declared.values, row0, np.concatenate([rows.values for _, rows in batch])),
            (declared.spans, row0, np.concatenate([rows.spans for _, rows in batch])),
            (declared.offsets, entry0, offsets),
            (declared.ids, entry0, as_objects([tid for tid, _ in batch])),
            (declared.texts, entry0, as_objects([encode_texts(rows.texts) for _, rows in batch])),
        ]

    def close(self) -> None:
        if not self._closed:
            self.commit()
            self._closed = True

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except Exception:  # keep the original error; the pending batch stays invisible
            log.exception("could not commit the pending batch of part %s", self.name)
