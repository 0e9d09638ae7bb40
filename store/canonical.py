"""The canonical content of a store: what compaction and HDF5 export write out.

Exactly what a reader sees: the last committed record of every trailer and, per feature, the
winning entry of every trailer, nothing from uncommitted tails or superseded duplicates. Rows are
streamed part by part in row order, in blocks, so a store larger than memory can be rewritten.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cinefeat.store.errors import StoreError
from cinefeat.store.index import FeaturePart, StoreIndex

DEFAULT_BLOCK_ROWS = 65536


@dataclass
class TrailerTable:
    ids: list[str]
    records: list[str]  # JSON
    status: list[str]
    committed_at: np.ndarray


@dataclass
class FeatureTable:
    """One feature's output entries and how to stream their rows from the source parts."""

    name: str
    provenance: dict
    dim: int
    dtype: np.dtype
    ids: list[str]
    lengths: np.ndarray  # rows per entry, output order
    texts: list[str]  # JSON per entry
    sources: list[tuple[FeaturePart, np.ndarray]]  # (part, (k, 2) winning offsets sorted by start)
    expected: np.ndarray | None = None  # (entries, 2) int64 source digests, -1 where unrecorded
    digests: np.ndarray | None = None  # (entries, 2) uint32, set once the rows were written

    @property
    def rows(self) -> int:
        return int(self.lengths.sum())

    @property
    def offsets(self) -> np.ndarray:
        stops = np.cumsum(self.lengths, dtype=np.int64)
        return np.stack([stops - self.lengths, stops], axis=1).reshape(-1, 2)

    def blocks(
        self, block_rows: int = DEFAULT_BLOCK_ROWS
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(values, spans) of the output rows, in order, about `block_rows` at a time."""
        for fpart, offsets in self.sources:
            if not len(offsets):
                continue
            keep = np.zeros(fpart.rows, dtype=bool)
            for start, stop in offsets:
                keep[start:stop] = True
            first, last = int(offsets[0, 0]), int(offsets[:, 1].max())
            for b0 in range(first, last, block_rows):
                b1 = min(last, b0 + block_rows)
                mask = keep[b0:b1]
                if not mask.any():
                    continue
                values = np.asarray(fpart.values[b0:b1])
                spans = np.asarray(fpart.spans[b0:b1])
                if not mask.all():
                    values, spans = values[mask], spans[mask]
                yield values, spans


def trailer_table(index: StoreIndex) -> TrailerTable:
    ids = sorted(index.trailers)
    locs = [index.trailers[t] for t in ids]
    return TrailerTable(
        ids=ids,
        records=[index.parts[part].record_json(pos) for part, pos in locs],
        status=[str(index.parts[part].status[pos]) for part, pos in locs],
        committed_at=np.array(
            [index.parts[part].committed_at[pos] for part, pos in locs], dtype=np.float64
        ),
    )


def feature_table(index: StoreIndex, name: str) -> FeatureTable:
    winners = index.feature(name)
    by_part: dict[int, list[int]] = {}
    for part, pos in winners.values():
        by_part.setdefault(part, []).append(pos)
    fparts = index.feature_parts(name)
    provenance = dict(fparts[0][1].provenance)
    ids: list[str] = []
    lengths: list[np.ndarray] = []
    texts: list[str] = []
    sources: list[tuple[FeaturePart, np.ndarray]] = []
    expected: list[np.ndarray] = []
    for pi, fpart in fparts:
        positions = np.array(sorted(by_part.get(pi, [])), dtype=np.int64)
        if not len(positions):
            continue
        fpart.require_intact()  # damaged offsets or dtypes: never copied as if they were data
        offsets = fpart.offsets[positions]
        order = np.argsort(offsets[:, 0], kind="stable")
        positions, offsets = positions[order], offsets[order]
        if np.any(offsets[1:, 0] < offsets[:-1, 1]) or np.any(offsets[:, 1] > fpart.rows):
            raise StoreError(
                f"feature {name!r}: overlapping or out-of-range offsets in a part: run "
                "`cinefeat store validate` to find the trailers, then rewrite them"
            )
        part_texts = np.asarray(fpart.texts[: len(fpart.ids)]).tolist()
        ids += [fpart.ids[p] for p in positions]
        lengths.append(offsets[:, 1] - offsets[:, 0])
        texts += [str(part_texts[p]) for p in positions]
        sources.append((fpart, offsets))
        recorded = fpart.digests
        expected.append(
            recorded[positions].astype(np.int64)
            if recorded is not None
            else np.full((len(positions), 2), -1, dtype=np.int64)
        )
    return FeatureTable(
        name=name,
        provenance=provenance,
        dim=int(provenance.get("dim", fparts[0][1].values.shape[1])),
        dtype=np.dtype(provenance.get("dtype", str(fparts[0][1].values.dtype))),
        ids=ids,
        lengths=np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64),
        texts=texts,
        sources=sources,
        expected=np.concatenate(expected) if expected else np.zeros((0, 2), dtype=np.int64),
    )


class AlignedWriter:
    """Writes a stream of row blocks into a pre-sized array in writes aligned to `align` rows.

    With sharding, a write that covers part of a shard makes zarr read and rewrite the whole
    shard; aligned writes touch each shard (or chunk) file exactly once.
    """

    def __init__(self, target: object, align: int) -> None:
        self.target = target
        self.align = max(1, int(align))
        self.buffer: list[np.ndarray] = []
        self.buffered = 0
        self.written = 0

    def add(self, block: np.ndarray) -> None:
        self.buffer.append(block)
        self.buffered += len(block)
        if self.buffered >= self.align:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if not self.buffered:
            return
        data = np.concatenate(self.buffer)
        count = len(data) if final else len(data) // self.align * self.align
        self.target[self.written : self.written + count] = data[:count]  # type: ignore[index]
        self.written += count
        rest = data[count:]
        self.buffer = [rest] if len(rest) else []
        self.buffered = len(rest)

    def close(self) -> None:
        self._flush(final=True)


def storage_rows(array: object) -> int:
    """Rows per storage object of a zarr array (the shard if sharded, else the chunk)."""
    shards = getattr(array, "shards", None)
    return int((shards or array.chunks)[0])  # type: ignore[attr-defined]
