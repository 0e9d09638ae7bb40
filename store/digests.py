"""Per-trailer digests: damage to committed rows is an error, never data.

Why: a part's bytes can change after commit (a bad disk, an edited file, a tampered download)
and still parse: zarr reads a deleted chunk as zeros, and overwritten finite values pass every
range check. At commit the writer records, per (trailer, feature) entry, the crc32 of its values
bytes and of its spans bytes (array `digests`, little-endian, the bytes as stored), and in the
part's commit record a running crc32 of the committed `offsets` and `digests` arrays. Readers
check the offsets crc when they open a part (cheap: those bytes are read anyway), an entry's
digests when its rows are read, and `validate` checks every entry. crc32 (zlib) because it runs at
memory speed, which sha256 does not; it guards against accidents, not forgery.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from cinefeat.store.errors import StoreIntegrityError

OFFSETS_CRC = "offsets_crc32"
DIGESTS_CRC = "digests_crc32"


def crc32(array: np.ndarray, start: int = 0) -> int:
    """crc32 of the little-endian C-order bytes of `array`, continuing from `start`."""
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return zlib.crc32(data.data, start) & 0xFFFFFFFF


def row_digest(values: np.ndarray, spans: np.ndarray) -> tuple[int, int]:
    """(crc32 of the values bytes, crc32 of the spans bytes) of one entry's rows."""
    return crc32(values), crc32(np.asarray(spans, dtype=np.float64))


def batch_digests(batch: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(k, 2) uint32 digests of k entries given as (values, spans)."""
    return np.array([row_digest(v, s) for v, s in batch], dtype=np.uint32).reshape(-1, 2)


class RowDigests:
    """Digests of entries whose rows arrive as consecutive blocks (compaction, validate).

    Each entry's crc is continued block by block, so a store larger than memory is digested in
    one streaming pass. Blocks must start at row 0 and follow each other without gaps.
    """

    def __init__(self, offsets: np.ndarray) -> None:
        self.offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        self.order = np.argsort(self.offsets[:, 0], kind="stable")
        self.starts = self.offsets[self.order, 0]
        self.values = [0] * len(self.offsets)
        self.spans = [0] * len(self.offsets)
        self.row = 0

    def feed(self, values: np.ndarray, spans: np.ndarray) -> None:
        r0, r1 = self.row, self.row + len(values)
        self.row = r1
        first = max(0, int(np.searchsorted(self.starts, r0, side="right")) - 1)
        last = int(np.searchsorted(self.starts, r1, side="left"))
        for i in self.order[first:last]:
            start, stop = (int(x) for x in self.offsets[i])
            a, b = max(start, r0), min(stop, r1)
            if a < b:
                self.values[i] = crc32(values[a - r0 : b - r0], self.values[i])
                self.spans[i] = crc32(np.asarray(spans[a - r0 : b - r0], np.float64), self.spans[i])

    def result(self) -> np.ndarray:
        return np.array([self.values, self.spans], dtype=np.uint32).T.reshape(-1, 2)


def offsets_damage(part: str, feature: str, offsets: np.ndarray, counts: dict[str, Any]) -> str:
    """Why `offsets` (as read, sliced to the commit) cannot be trusted; "" when they can."""
    rows = int(counts.get("rows", 0))
    where = f"part {part!r}, feature {feature!r}"
    recorded = counts.get(OFFSETS_CRC)
    if recorded is not None and crc32(offsets.astype(np.int64)) != int(recorded):
        return (
            f"{where}: the offsets do not match the crc32 of the commit record (an offsets "
            "chunk is missing or changed): its rows cannot be assigned to trailers; re-extract "
            "them, or restore the part from a backup"
        )
    if len(offsets) and rows and not offsets[:, 1].any():
        return (
            f"{where}: every entry reads as 0 rows although {rows} rows are committed (an "
            "offsets chunk is missing): re-extract these trailers"
        )
    if len(offsets) and (
        (offsets[:, 0] < 0).any() or (offsets[:, 1] < offsets[:, 0]).any() or
        (offsets[:, 1] > rows).any()
    ):  # fmt: skip
        return f"{where}: offsets outside the {rows} committed rows: run `cinefeat store validate`"
    return ""


def check_entry(
    part: str, feature: str, trailer: str, recorded: np.ndarray, values: np.ndarray,
    spans: np.ndarray,
) -> None:  # fmt: skip
    """Raise `StoreIntegrityError` unless the rows read match the entry's recorded digests."""
    got = row_digest(values, spans)
    for what, have, want in (("values", got[0], recorded[0]), ("spans", got[1], recorded[1])):
        if have != int(want):
            raise StoreIntegrityError(
                f"part {part!r}, feature {feature!r}, trailer {trailer!r}: the {what} read do "
                f"not match the crc32 recorded at commit ({have:08x} != {int(want):08x}): the "
                "part is damaged; re-extract this trailer (`cinefeat store validate` lists all)"
            )
