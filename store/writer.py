"""`StoreWriter`: appends trailers to one part of a store and commits them atomically per batch.

Why parts: zarr has no locking, so two processes appending to one array lose rows. Every writer
(process, GPU worker, machine) therefore owns a fresh part `parts/<run>-<worker>-<pid>-<uid>/`
that nobody else touches. Why the commit attribute: a batch first appends its rows and index
entries beyond the committed counts, and only then rewrites the part's `commit` attribute (one
atomic file replace by zarr's local store). Readers slice every array to the committed counts,
so a writer killed mid-batch leaves an invisible tail, and a rerun writes into a new part.

Why a lease: compaction replaces parts. A writer holds a lease on its part (`lease.py`) from
before the part is visible until close, so compaction skips it while the writer lives. Should a
compaction replace the part anyway (the writer froze past its lease on another machine), the
writer notices before and after each commit (its name in some part's `supersedes`, or its
folder gone) and writes the batch into a new part: no committed trailer depends on the old one.
"""

from __future__ import annotations

import json
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
from cinefeat.store.digests import DIGESTS_CRC, OFFSETS_CRC, batch_digests, crc32
from cinefeat.store.errors import FeatureDeclarationError, RowsError, StoreError
from cinefeat.store.lease import HEARTBEAT_S, PartLease
from cinefeat.store.nodes import array_at, group_at
from cinefeat.store.provenance import complete_provenance, incompatibilities
from cinefeat.store.record import TrailerRecord
from cinefeat.store.rows import FeatureRows
from cinefeat.store.textcodec import encode_texts
from cinefeat.store.write_checks import check_declaration, check_record, checked_rows, undeclared

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
    digests: zarr.Array
    row_chunk: int | None = None


@dataclass
class _Pending:
    record: TrailerRecord
    features: dict[str, FeatureRows] = field(default_factory=dict)


class StoreWriter:
    """Writes trailers into its own new part; `commit()` publishes everything added since.

    Use as a context manager: leaving the `with` block commits what is pending (also when the
    block raises, since every `add` holds a complete trailer). One writer per process or worker.
    """

    def __init__(
        self,
        store: FeatureStore,
        run: str,
        worker: str,
        part: str | None = None,
        commit_every: int = 0,
        commit_interval_s: float | None = None,
        lease_interval_s: float = HEARTBEAT_S,
        run_config: dict[str, Any] | None = None,
    ) -> None:
        """`commit_every` / `commit_interval_s`: `add` commits by itself once that many trailers
        are pending, or that many seconds passed since the last commit (0 / None: only when
        `commit()` is called). `lease_interval_s`: how often the lease is refreshed.
        `run_config`: the run's effective settings, recorded in the part (`store.run_configs`)."""
        L.check_name("run", run)
        L.check_name("worker", worker)
        self.store = store
        self.run, self.worker = run, worker
        self.commit_every = int(commit_every)
        self.commit_interval_s = commit_interval_s
        self.lease_interval_s = float(lease_interval_s)
        self._declared: dict[str, _Declared] = {}
        self._pending: list[_Pending] = []
        self._pending_ids: set[str] = set()
        self._written_ids: set[str] = set()
        self._checked_parts: set[str] = set()  # parts known not to supersede this one
        self._closed = False
        self._last_commit = time.monotonic()
        self._run_config = run_config
        self._open_part(part or self._new_name())

    def _new_name(self) -> str:
        return f"{self.run}-{self.worker}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def _open_part(self, name: str) -> None:
        """Take the lease on `parts/<name>/`, then create the part (visible from then on)."""
        L.check_name("part", name)
        root = self.store.writable_root()
        parts = root.require_group(L.PARTS)
        self.name = name
        self.lease = PartLease(self.store.path / L.PARTS / name, self.lease_interval_s)
        self.group = create_part(parts, name, self.run, self.worker, self._run_config)
        trailers = group_at(self.group, L.TRAILERS)
        self._trailers = {
            array: L.dense(array_at(trailers, array))
            for array in (
                L.TRAILER_IDS,
                L.TRAILER_RECORDS,
                L.TRAILER_STATUS,
                L.TRAILER_COMMITTED_AT,
            )
        }
        self._commit = empty_commit()

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
        dim = check_declaration(name, dim, dtype)
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
        self._declared[name] = self._create_arrays(name, int(dim), dtype, full, row_chunk)

    def _create_arrays(
        self, name: str, dim: int, dtype: str, provenance: dict[str, Any], row_chunk: int | None
    ) -> _Declared:
        group = create_feature_arrays(self.group, name, dim, dtype, provenance, row_chunk)
        return _Declared(
            group=group,
            dim=dim,
            dtype=np.dtype(dtype),
            provenance=provenance,
            values=L.dense(array_at(group, L.VALUES)),
            spans=L.dense(array_at(group, L.SPANS)),
            ids=L.dense(array_at(group, L.ENTRY_IDS)),
            offsets=L.dense(array_at(group, L.OFFSETS)),
            texts=L.dense(array_at(group, L.TEXTS)),
            digests=L.dense(array_at(group, L.DIGESTS)),
            row_chunk=row_chunk,
        )

    # -- adding ----------------------------------------------------------------------------------

    def add(self, record: TrailerRecord, features: dict[str, FeatureRows] | None = None) -> None:
        """Queue one complete trailer (its record and any of its declared features)."""
        if self._closed:
            raise RowsError(f"writer of part {self.name} is closed: open a new store.writer()")
        check_record(record)
        if record.id in self._pending_ids or record.id in self._written_ids:
            raise RowsError(
                f"trailer {record.id!r} was already added to part {self.name}: add each trailer "
                "once per writer, with all the features this run computes for it"
            )
        checked: dict[str, FeatureRows] = {}
        for feature, rows in (features or {}).items():
            declared = self._declared.get(feature)
            if declared is None:
                raise undeclared(feature, record.id)
            checked[feature] = checked_rows(record.id, feature, rows, declared.dim, declared.dtype)
        self._pending.append(_Pending(record, checked))
        self._pending_ids.add(record.id)
        due = self.commit_every and len(self._pending) >= self.commit_every
        late = (
            self.commit_interval_s is not None
            and time.monotonic() - self._last_commit >= self.commit_interval_s
        )
        if due or late:
            self.commit()

    # -- committing ------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._pending)

    def commit(self) -> int:
        """Make every trailer added since the last commit visible; returns how many.

        Order matters: feature rows and entries, then the trailer index, then the commit point.
        Each step's array writes run concurrently (one round trip through zarr's event loop).
        Before and after, the writer checks that no compaction replaced its part; if one did,
        the batch goes (again) into a new part, so it is committed somewhere readers look.
        """
        if not self._pending:
            return 0
        for _ in range(3):
            self.lease.refresh()
            if self._replaced():
                self._switch_part("before committing")
            self._commit_pending()
            if not self._replaced():
                break
            self._switch_part("while committing")
        else:
            raise StoreError(
                f"part {self.name} was replaced by a compaction three times in a row while "
                "committing: run `cinefeat store compact` only when this writer has finished"
            )
        count = len(self._pending)
        self._written_ids |= self._pending_ids
        self._pending.clear()
        self._pending_ids.clear()
        self._last_commit = time.monotonic()
        self.store.refresh()
        return count

    def _commit_pending(self) -> None:
        commit = {
            "sequence": self._commit["sequence"] + 1,
            "time": time.time(),
            "trailers": self._commit["trailers"] + len(self._pending),
            "features": {k: dict(v) for k, v in self._commit["features"].items()},
        }
        self._write_features(commit["features"])
        self._write_trailer_index(commit["time"])
        self.group.attrs[L.COMMIT_ATTR] = commit  # the commit point: one atomic metadata write
        self._commit = commit

    def _replaced(self) -> bool:
        """True when a compaction superseded this part (or its folder is gone).

        Cheap enough for every commit: one directory listing, plus one small `zarr.json` read
        per part not seen before (a part that does not supersede this one never will).
        """
        parts = self.store.path / L.PARTS
        if not (parts / self.name / "zarr.json").is_file():
            return True
        for other in os.listdir(parts):
            if other == self.name or other in self._checked_parts:
                continue
            try:
                meta = json.loads((parts / other / "zarr.json").read_text())
            except (OSError, ValueError):
                continue  # being created or deleted: looked at again next time
            info = meta.get("attributes", {}).get(L.PART_ATTR) if isinstance(meta, dict) else None
            if isinstance(info, dict) and self.name in info.get("supersedes", []):
                return True
            self._checked_parts.add(other)
        return False

    def _switch_part(self, when: str) -> None:
        """Continue in a new part with the same features; the old one belongs to compaction."""
        old = self.name
        self.lease.release()
        self._open_part(self._new_name())
        for name, declared in self._declared.items():
            self._declared[name] = self._create_arrays(
                name,
                declared.dim,
                str(declared.dtype),
                declared.provenance,
                declared.row_chunk,
            )
        log.warning(
            "part %s was replaced by a compaction %s: %d pending trailer(s) go into new part %s",
            old,
            when,
            len(self._pending),
            self.name,
        )

    def _write_features(self, counts: dict[str, dict[str, int]]) -> None:
        jobs: list[tuple[zarr.Array, int, np.ndarray]] = []
        for name, declared in self._declared.items():
            feature_counts = counts.setdefault(
                name, {"entries": 0, "rows": 0, OFFSETS_CRC: 0, DIGESTS_CRC: 0}
            )
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
        digests = batch_digests([(rows.values, rows.spans) for _, rows in batch])
        counts["rows"] = int(stops[-1])
        counts["entries"] = entry0 + len(batch)
        # running crc32 of the committed index arrays: readers detect a lost or edited chunk
        counts[OFFSETS_CRC] = crc32(offsets, int(counts.get(OFFSETS_CRC, 0)))
        counts[DIGESTS_CRC] = crc32(digests, int(counts.get(DIGESTS_CRC, 0)))
        return [
            (declared.digests, entry0, digests),
            (declared.values, row0, np.concatenate([rows.values for _, rows in batch])),
            (declared.spans, row0, np.concatenate([rows.spans for _, rows in batch])),
            (declared.offsets, entry0, offsets),
            (declared.ids, entry0, as_objects([tid for tid, _ in batch])),
            (declared.texts, entry0, as_objects([encode_texts(rows.texts) for _, rows in batch])),
        ]

    def close(self) -> None:
        """Commit what is pending, then give up the lease (also when the commit fails)."""
        if not self._closed:
            try:
                self.commit()
            finally:
                self._closed = True
                self.lease.release()

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
