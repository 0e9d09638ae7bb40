"""The arrays of a part: creating them, and appending rows to them in one round trip.

Shared by the writer (appends batch by batch), compaction and HDF5 import (create arrays at
their final size). Layout and names: docs/store-format.md and `layout.py`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync

from cinefeat.store import layout as L
from cinefeat.store.directio import RowWriter


def empty_commit() -> dict[str, Any]:
    return {"sequence": 0, "time": None, "trailers": 0, "features": {}}


def create_part(
    parts: zarr.Group, name: str, run: str, worker: str, config: dict | None = None
) -> zarr.Group:
    """An empty part group with its trailer index arrays and a zero commit.

    `config`: the effective settings of the run that writes it (`cinefeat extract` records its
    resolved options, so `cinefeat store runs` can print a config that repeats the run).
    """
    info = {
        "run": run,
        "worker": worker,
        "created": time.time(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    if config is not None:
        info["config"] = config
    part = parts.create_group(name, attributes={L.PART_ATTR: info, L.COMMIT_ATTR: empty_commit()})
    trailers = part.create_group(L.TRAILERS)
    for array_name in (L.TRAILER_IDS, L.TRAILER_RECORDS, L.TRAILER_STATUS):
        trailers.create_array(array_name, shape=(0,), chunks=(L.INDEX_CHUNK,), dtype=str)
    trailers.create_array(
        L.TRAILER_COMMITTED_AT, shape=(0,), chunks=(L.INDEX_CHUNK,), dtype="float64"
    )
    return part


def create_feature_arrays(
    part: zarr.Group,
    name: str,
    dim: int,
    dtype: str,
    provenance: dict[str, Any],
    row_chunk: int | None = None,
    rows_per_shard: int | None = None,
    rows: int = 0,
    entries: int = 0,
) -> zarr.Group:
    """The arrays of one feature in one part (also used by compaction and HDF5 import).

    Values are stored uncompressed: float16 features barely compress, and a random read of one
    trailer then costs a plain file read. `rows_per_shard` packs many chunks into one file (zarr
    sharding), which is how a compacted 50,000-trailer store stays under 100 files per feature.
    """
    features = part.require_group(L.FEATURES)
    group = features.create_group(name, attributes={L.PROVENANCE_ATTR: provenance})
    chunk = row_chunk or L.row_chunk_for(dim, itemsize=np.dtype(dtype).itemsize)
    shard_kw: dict[str, Any] = {}
    span_shard_kw: dict[str, Any] = {}
    if rows_per_shard:
        shard_rows = max(chunk, rows_per_shard // chunk * chunk)
        shard_kw = {"shards": (shard_rows, dim)}
        # spans are 16 bytes a row: give their shards about the bytes of a values shard
        span_rows = shard_rows * max(1, dim * np.dtype(dtype).itemsize // 16)
        span_shard_kw = {
            "shards": (max(L.INDEX_CHUNK, span_rows // L.INDEX_CHUNK * L.INDEX_CHUNK), 2)
        }
    group.create_array(
        L.VALUES, shape=(rows, dim), chunks=(chunk, dim), dtype=dtype, compressors=None, **shard_kw
    )
    group.create_array(
        L.SPANS,
        shape=(rows, 2),
        chunks=(L.INDEX_CHUNK, 2),
        dtype="float64",
        compressors=None,
        **span_shard_kw,
    )
    group.create_array(L.ENTRY_IDS, shape=(entries,), chunks=(L.INDEX_CHUNK,), dtype=str)
    group.create_array(L.OFFSETS, shape=(entries, 2), chunks=(L.INDEX_CHUNK, 2), dtype="int64")
    group.create_array(L.DIGESTS, shape=(entries, 2), chunks=(L.INDEX_CHUNK, 2), dtype="uint32")
    group.create_array(L.TEXTS, shape=(entries,), chunks=(L.INDEX_CHUNK,), dtype=str)
    return group


def as_objects(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


async def _append(array: zarr.Array, start: int, block: np.ndarray) -> None:
    target = array.async_array
    stop = start + len(block)
    if target.shape[0] < stop:
        # Grow geometrically: readers slice to the commit counts, not to the shape, so spare
        # capacity costs nothing and most commits then skip the metadata rewrite.
        capacity = max(stop, 2 * target.shape[0], int(array.chunks[0]))
        await target.resize((capacity, *target.shape[1:]))
    direct = RowWriter(array) if array.ndim == 2 else None
    if direct is not None and direct.direct:
        direct.write(start, block)
    else:
        await target.setitem(slice(start, stop), block)


def append_all(jobs: list[tuple[zarr.Array, int, np.ndarray]]) -> None:
    """Write each `block` at rows [start, start + len) of its array, growing it first.

    All jobs run concurrently: a commit touches ~10 arrays, and one event-loop round trip
    instead of ~20 sequential ones is what keeps small commits cheap. Empty blocks are skipped.
    """
    work = [_append(array, start, block) for array, start, block in jobs if len(block)]
    if work:

        async def gather() -> None:
            await asyncio.gather(*work)

        sync(gather())
