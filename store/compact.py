"""`compact`: merge every part of a store into one canonical part, safely re-runnable.

Why it is safe to interrupt: the new part is built under `staging/` (invisible to readers), then
moved into `parts/` with one directory rename; its `part.supersedes` lists the parts it replaces,
so readers ignore those from that instant on, and only then are they deleted. A rerun first
removes leftover staging folders and superseded parts, so any interruption point converges.
Run it while no writer is active: a part that commits during compaction makes it stop.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
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
from cinefeat.store.errors import ReadOnlyStoreError, StoreError
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.index import StoreIndex, superseded_parts

log = logging.getLogger(__name__)

STAGING = "staging"
COMPACT_RUN = "compact"


@dataclass
class CompactResult:
    part: str | None
    replaced: list[str] = field(default_factory=list)
    removed_leftovers: list[str] = field(default_factory=list)
    trailers: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def cleanup(path: Path) -> list[str]:
    """Delete interrupted staging folders and parts already superseded; names what went."""
    removed: list[str] = []
    staging = path / STAGING
    if staging.exists():
        shutil.rmtree(staging)
        removed.append(STAGING)
    root = zarr.open_group(store=str(path), mode="r")
    if L.PARTS in root:
        groups = sorted(root[L.PARTS].groups())
        for name in sorted(superseded_parts(groups)):
            folder = path / L.PARTS / name
            if folder.exists():
                shutil.rmtree(folder)
                removed.append(name)
    return removed


def write_trailers(part: zarr.Group, table: TrailerTable) -> None:
    trailers = part[L.TRAILERS]
    n = len(table.ids)
    if not n:
        return
    for name, data in (
        (L.TRAILER_IDS, np.array(table.ids, dtype=object)),
        (L.TRAILER_RECORDS, np.array(table.records, dtype=object)),
        (L.TRAILER_STATUS, np.array(table.status, dtype=object)),
        (L.TRAILER_COMMITTED_AT, table.committed_at),
    ):
        array = L.dense(trailers[name])
        array.resize((n,))
        array[:] = data


def write_feature(
    part: zarr.Group,
    table: FeatureTable,
    rows_per_shard: int | None,
    row_chunk: int | None = None,
    blocks: object | None = None,
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
    values = AlignedWriter(L.dense(group[L.VALUES]), storage_rows(group[L.VALUES]))
    spans = AlignedWriter(L.dense(group[L.SPANS]), storage_rows(group[L.SPANS]))
    for v, s in blocks if blocks is not None else table.blocks():  # type: ignore[union-attr]
        values.add(np.asarray(v, dtype=table.dtype))
        spans.add(np.asarray(s, dtype=np.float64))
    values.close()
    spans.close()
    if values.written != table.rows:
        raise StoreError(
            f"feature {table.name!r}: copied {values.written} rows, expected {table.rows}: "
            "the source changed or is damaged; run `cinefeat store validate`"
        )
    if table.ids:
        L.dense(group[L.ENTRY_IDS])[:] = np.array(table.ids, dtype=object)
        L.dense(group[L.OFFSETS])[:] = table.offsets
        L.dense(group[L.TEXTS])[:] = np.array(table.texts, dtype=object)


def commit_counts(tables: list[FeatureTable], trailers: int) -> dict:
    return {
        "sequence": 1,
        "time": time.time(),
        "trailers": trailers,
        "features": {t.name: {"entries": len(t.ids), "rows": t.rows} for t in tables},
    }


def compact(
    store: FeatureStore, rows_per_shard: int | None = None, force: bool = False
) -> CompactResult:
    """Merge all parts into one; `rows_per_shard` packs chunks into shard files (few files).

    Skips the rewrite when the store already is a single compacted part, unless `force`.
    """
    started = time.perf_counter()
    if store.read_only or L.is_zip(store.path):
        raise ReadOnlyStoreError(f"{store.path} is read-only: compact a store directory")
    removed = cleanup(store.path)
    store.refresh()
    index = store.index
    names = [p.name for p in index.parts]
    if not names or (
        len(names) == 1 and index.parts[0].info.get("run") == COMPACT_RUN and not force
    ):
        return CompactResult(None, [], removed, len(index.trailers), {}, 0.0)
    sequences = {p.name: p.commit.get("sequence") for p in index.parts}
    part_name = f"{COMPACT_RUN}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = store.root.require_group(STAGING)
    part = create_part(staging, part_name, COMPACT_RUN, "0")
    info = dict(part.attrs[L.PART_ATTR])
    info["supersedes"] = names
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
    _check_unchanged(store, sequences)
    part.attrs[L.COMMIT_ATTR] = commit_counts(tables, len(trailers.ids))
    (store.path / STAGING / part_name).rename(store.path / L.PARTS / part_name)  # the switch
    cleanup(store.path)
    store.refresh()
    return CompactResult(
        part=part_name,
        replaced=names,
        removed_leftovers=removed,
        trailers=len(trailers.ids),
        rows={t.name: t.rows for t in tables},
        seconds=time.perf_counter() - started,
    )


def _check_unchanged(store: FeatureStore, sequences: dict[str, object]) -> None:
    current = {p.name: p.commit.get("sequence") for p in StoreIndex.build(store.root).parts}
    changed = sorted(n for n, seq in sequences.items() if current.get(n) != seq)
    if changed:
        shutil.rmtree(store.path / STAGING, ignore_errors=True)
        raise StoreError(
            f"parts {changed} committed new trailers while compacting: nothing was changed; "
            "rerun `cinefeat store compact` when every writer has finished"
        )
