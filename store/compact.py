"""`compact`: merge every part of a store into one canonical part, safely re-runnable.

Why it is safe to interrupt: the new part is built under `staging/` (invisible to readers), then
moved into `parts/` with one directory rename; its `part.supersedes` lists the parts it replaces,
so readers ignore those from that instant on, and only then are they deleted. A rerun first
removes leftover staging folders and superseded parts, so any interruption point converges.

Why it is safe beside live writers: compaction takes each part's lock (`lease.py`) and leaves
out every part whose writer is alive (lock held elsewhere, or a fresh lease), holding the locks
of the parts it replaces until they are deleted. Just before the switch it checks that none of
those parts committed or refreshed its lease meanwhile, and stops otherwise. A replaced part
that still holds trailers the live parts lack (committed after the copy, by a writer whose lease
had expired) is never deleted: it is put back (dropped from `supersedes`) for the next run.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr

from cinefeat.store import layout as L
from cinefeat.store.arrays import create_feature_arrays, create_part
from cinefeat.store.canonical import (
    AlignedWriter,
    FeatureTable,
    TrailerTable,
    feature_table,
    storage_rows,
    trailer_table,
)
from cinefeat.store.console import progress
from cinefeat.store.digests import DIGESTS_CRC, OFFSETS_CRC, RowDigests, crc32
from cinefeat.store.errors import ReadOnlyStoreError, StoreError, StoreIntegrityError
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.index import (
    Part,
    StoreIndex,
    list_parts,
    read_part,
    run_configs,
    superseded_parts,
    unreachable_trailers,
)
from cinefeat.store.lease import Lock, lease_state, read_lease
from cinefeat.store.nodes import array_at, attr_dict, group_at

log = logging.getLogger(__name__)

STAGING = "staging"
COMPACT_RUN = "compact"
CREATING_GRACE_S = 60.0  # an empty part folder younger than this may be a writer starting up


@dataclass
class CompactResult:
    part: str | None
    replaced: list[str] = field(default_factory=list)
    removed_leftovers: list[str] = field(default_factory=list)
    trailers: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)  # open parts left alone, and why


def cleanup(path: Path) -> list[str]:
    """Delete interrupted staging folders, parts already superseded and folders of writers that
    died while creating their part; names what went. A superseded part that holds trailers the
    live parts lack is put back instead (see the module docstring), one whose writer is alive is
    left for a later run."""
    removed: list[str] = []
    staging = path / STAGING
    if staging.exists():
        shutil.rmtree(staging)
        removed.append(STAGING)
    root = zarr.open_group(store=str(path), mode="r+", use_consolidated=False)
    listing = list_parts(root)
    superseded = superseded_parts(listing.groups)
    live = [
        read_part(name, group)
        for name, group in listing.groups
        if name not in superseded and name not in listing.damaged
    ]
    index = StoreIndex.from_parts(live)
    replaced = {name: group for name, group in listing.groups if name in superseded}
    for name in sorted(superseded | set(listing.creating)):
        folder = path / L.PARTS / name
        if not folder.is_dir():
            continue
        lock = Lock(folder)
        try:
            if lock.supported and not lock.held:
                log.warning(
                    "part %s is still open by its writer: left for a later compaction", name
                )
                continue
            if name not in superseded and (
                time.time() - folder.stat().st_mtime < CREATING_GRACE_S
                or lease_state(folder, lock).state == "open"
            ):
                continue  # a writer is creating it (between its mkdir and its lock, or remote)
            lost = _unreachable(index, name, replaced.get(name))
            if lost:
                _restore(listing.groups, name)
                log.warning(
                    "part %s was replaced but holds %d trailer(s) committed after the copy "
                    "(%s...): put back; run `cinefeat store compact` again to merge them",
                    name,
                    len(lost),
                    lost[:3],
                )
                continue
            shutil.rmtree(folder)
            removed.append(name)
        finally:
            lock.release()
    return removed


def _unreachable(index: StoreIndex, name: str, group: zarr.Group | None) -> list[str]:
    if group is None:
        return []
    try:
        part = read_part(name, group)
    except Exception:  # half deleted by an interrupted cleanup: nothing readable to keep
        return []
    return unreachable_trailers(index, part)


def _restore(groups: list[tuple[str, zarr.Group]], name: str) -> None:
    """Make a superseded part live again: drop it from every `supersedes` that names it."""
    for _, group in groups:
        info = group.attrs.get(L.PART_ATTR)
        supersedes = info.get("supersedes", []) if isinstance(info, dict) else []
        if isinstance(info, dict) and isinstance(supersedes, list) and name in supersedes:
            info = dict(info)
            info["supersedes"] = [n for n in supersedes if n != name]
            group.attrs[L.PART_ATTR] = info


def write_trailers(part: zarr.Group, table: TrailerTable) -> None:
    trailers = group_at(part, L.TRAILERS)
    n = len(table.ids)
    if not n:
        return
    for name, data in (
        (L.TRAILER_IDS, np.array(table.ids, dtype=object)),
        (L.TRAILER_RECORDS, np.array(table.records, dtype=object)),
        (L.TRAILER_STATUS, np.array(table.status, dtype=object)),
        (L.TRAILER_COMMITTED_AT, table.committed_at),
    ):
        array = L.dense(array_at(trailers, name))
        array.resize((n,))
        array[:] = data


def write_feature(
    part: zarr.Group,
    table: FeatureTable,
    rows_per_shard: int | None,
    row_chunk: int | None = None,
    blocks: Iterable[tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Create the feature's arrays at their final size and stream its rows in aligned writes."""
    group = create_feature_arrays(
        part,
        table.name,
        table.dim,
        str(table.dtype),
        table.provenance,
        row_chunk=row_chunk,
        rows_per_shard=rows_per_shard,
        rows=table.rows,
        entries=len(table.ids),
    )
    value_array, span_array = array_at(group, L.VALUES), array_at(group, L.SPANS)
    values = AlignedWriter(L.dense(value_array), storage_rows(value_array))
    spans = AlignedWriter(L.dense(span_array), storage_rows(span_array))
    digests = RowDigests(table.offsets)
    for v, s in blocks if blocks is not None else table.blocks():
        v, s = np.asarray(v, dtype=table.dtype), np.asarray(s, dtype=np.float64)
        digests.feed(v, s)
        values.add(v)
        spans.add(s)
    values.close()
    spans.close()
    if values.written != table.rows:
        raise StoreError(
            f"feature {table.name!r}: copied {values.written} rows, expected {table.rows}: "
            "the source changed or is damaged; run `cinefeat store validate`"
        )
    table.digests = digests.result()
    check_copied(table)
    if table.ids:
        L.dense(array_at(group, L.ENTRY_IDS))[:] = np.array(table.ids, dtype=object)
        L.dense(array_at(group, L.OFFSETS))[:] = table.offsets
        L.dense(array_at(group, L.DIGESTS))[:] = table.digests
        L.dense(array_at(group, L.TEXTS))[:] = np.array(table.texts, dtype=object)


def check_copied(table: FeatureTable) -> None:
    """The rows copied must be the rows committed: a damaged source part stops the rewrite
    (its damage would otherwise get fresh digests and pass for data)."""
    if table.expected is None or table.digests is None:
        return
    known = table.expected >= 0
    bad = np.flatnonzero((known & (table.expected != table.digests.astype(np.int64))).any(axis=1))
    if len(bad):
        trailers = [table.ids[i] for i in bad[:5]]
        raise StoreIntegrityError(
            f"feature {table.name!r}: the rows of {len(bad)} trailer(s) {trailers} do not match "
            "the digests recorded at commit: the store is damaged and nothing was rewritten; run "
            "`cinefeat store validate` and re-extract those trailers"
        )


def commit_counts(tables: list[FeatureTable], trailers: int) -> dict:
    features = {}
    for t in tables:
        counts: dict[str, int] = {"entries": len(t.ids), "rows": t.rows}
        if t.digests is not None:
            counts[OFFSETS_CRC] = crc32(t.offsets.astype(np.int64))
            counts[DIGESTS_CRC] = crc32(t.digests.astype(np.uint32))
        features[t.name] = counts
    return {"sequence": 1, "time": time.time(), "trailers": trailers, "features": features}


def compact(
    store: FeatureStore, rows_per_shard: int | None = None, force: bool = False
) -> CompactResult:
    """Merge every part without a live writer into one; `rows_per_shard` packs chunks into shard
    files (few files). Parts whose writer is alive are left as they are (`result.skipped`).

    Skips the rewrite when the store already is a single compacted part, unless `force`.
    """
    started = time.perf_counter()
    if store.read_only or L.is_zip(store.path):
        raise ReadOnlyStoreError(f"{store.path} is read-only: compact a store directory")
    removed = cleanup(store.path)
    store.refresh()
    locks: dict[str, Lock] = {}
    try:
        parts, skipped = _claim(store, locks)
        result = _compact_parts(store, parts, locks, rows_per_shard, force)
    finally:
        for lock in locks.values():
            lock.release()
    result.removed_leftovers = removed
    result.skipped = skipped
    result.seconds = time.perf_counter() - started
    for name, why in skipped.items():
        log.warning("part %s left as it is: %s", name, why)
    return result


def _claim(store: FeatureStore, locks: dict[str, Lock]) -> tuple[list[Part], dict[str, str]]:
    """The parts compaction may replace (their locks kept in `locks`) and the open ones."""
    claimed: list[Part] = []
    skipped: dict[str, str] = {}
    for part in store.index.parts:
        folder = store.path / L.PARTS / part.name
        lock = Lock(folder)
        state = lease_state(folder, lock)
        if state.state == "open":
            lock.release()
            skipped[part.name] = (
                f"its writer is alive ({state.reason}); compact again when it has finished"
            )
            continue
        locks[part.name] = lock
        claimed.append(part)
    return claimed, skipped


def _compact_parts(
    store: FeatureStore,
    parts: list[Part],
    locks: dict[str, Lock],
    rows_per_shard: int | None,
    force: bool,
) -> CompactResult:
    index = StoreIndex.from_parts(parts)
    names = [p.name for p in index.parts]
    if not names or (
        len(names) == 1 and index.parts[0].info.get("run") == COMPACT_RUN and not force
    ):
        return CompactResult(None, [], [], len(index.trailers), {}, 0.0)
    sequences = {p.name: p.commit.get("sequence") for p in index.parts}
    leases = {n: read_lease(store.path / L.PARTS / n) for n in names}
    part_name = f"{COMPACT_RUN}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = store.root.require_group(STAGING)
    part = create_part(staging, part_name, COMPACT_RUN, "0")
    info = attr_dict(part, L.PART_ATTR)
    info["supersedes"] = names
    info["runs"] = run_configs(p.info for p in index.parts)  # the runs' settings survive
    info["rows_per_shard"] = rows_per_shard
    part.attrs[L.PART_ATTR] = info
    trailers = trailer_table(index)
    write_trailers(part, trailers)
    tables = []
    for name in progress(index.feature_names(), desc="compact", unit="feature"):
        table = feature_table(index, name)
        chunk_rows = int(index.feature_parts(name)[0][1].values.chunks[0])  # keep the chunking
        write_feature(part, table, rows_per_shard, row_chunk=chunk_rows)
        tables.append(table)
    _check_unchanged(store, sequences, leases)
    part.attrs[L.COMMIT_ATTR] = commit_counts(tables, len(trailers.ids))
    (store.path / STAGING / part_name).rename(store.path / L.PARTS / part_name)  # the switch
    for name in names:  # the replaced parts are deleted by this process: drop their locks
        locks.pop(name).release()
    cleanup(store.path)
    store.refresh()
    return CompactResult(
        part=part_name,
        replaced=names,
        trailers=len(trailers.ids),
        rows={t.name: t.rows for t in tables},
    )


def _check_unchanged(
    store: FeatureStore, sequences: Mapping[str, object], leases: Mapping[str, object]
) -> None:
    """Stop before the switch when a replaced part committed or renewed its lease meanwhile."""
    current = {p.name: p.commit.get("sequence") for p in StoreIndex.build(store.root).parts}
    changed = sorted(n for n, seq in sequences.items() if current.get(n) != seq)
    renewed = sorted(
        n for n, lease in leases.items() if read_lease(store.path / L.PARTS / n) != lease
    )
    if changed or renewed:
        shutil.rmtree(store.path / STAGING, ignore_errors=True)
        raise StoreError(
            f"parts {sorted(set(changed + renewed))} committed or renewed their writer's lease "
            "while compacting: nothing was changed; rerun `cinefeat store compact`"
        )
