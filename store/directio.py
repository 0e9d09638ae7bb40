"""Direct row I/O on uncompressed local chunk files, bypassing zarr's per-chunk machinery.

Why: a random read of one trailer is a few hundred KiB, and zarr's async round trip costs more
than the read itself (about 1 ms per slice; ~5 ms per chunk written on a busy machine). Values
and spans are stored uncompressed with the plain `bytes` codec, optionally inside shards with the
standard end-of-file index, so a row range is a byte range of one file: `os.pread` reads exactly
those bytes, and a write replaces whole chunk files atomically, byte-identical to what zarr
writes. A `.zip` store whose members are ZIP_STORED (every feature archive) is read the same way:
a chunk is a byte range of the zip file (`zipmembers.py`). Any other layout (compressed chunks or
members, a remote store) falls back to zarr, so the format stays plain zarr.

`DIRECT_READS = False` makes every reader go through zarr (benchmarks compare the two).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BytesCodec, Crc32cCodec, ShardingCodec
from zarr.storage import LocalStore, ZipStore

from cinefeat.store.errors import StoreError
from cinefeat.store.zipmembers import StoredMembers, stored_members

_EMPTY = np.uint64(2**64 - 1)  # shard index entry of an absent inner chunk
DIRECT_READS = True  # False: always read through zarr (for comparisons)


def _plain(codecs: tuple) -> bool:
    return len(codecs) == 1 and isinstance(codecs[0], BytesCodec)


class RowReader:
    """Reads rows [start, stop) of a 2-D zarr array, directly from disk when the layout allows."""

    def __init__(self, array: zarr.Array) -> None:
        self.array = array
        self.dtype = np.dtype(array.dtype).newbyteorder("<")
        self.width = int(array.shape[1])
        self.row_bytes = self.dtype.itemsize * self.width
        self.directory: Path | None = None
        self.chunk_rows = int(array.chunks[0])
        self.shard_rows: int | None = None
        self._shard_index: dict[int, np.ndarray] = {}
        self._zip: StoredMembers | None = None  # set when the array lives in a stored zip
        store = array.store_path.store
        codecs = array.metadata.codecs if array.metadata.zarr_format == 3 else ()
        if not DIRECT_READS or array.ndim != 2 or not codecs:
            return
        if isinstance(store, LocalStore):
            root = Path(store.root)
        elif isinstance(store, ZipStore) and Path(store.path).is_file():
            members = stored_members(store.path)
            if not members.all_stored:
                return
            self._zip, root = members, Path()
        else:
            return
        if _plain(codecs):
            self.directory = root / array.path
        elif len(codecs) == 1 and isinstance(codecs[0], ShardingCodec):
            sharding = codecs[0]
            index_ok = (
                len(sharding.index_codecs) == 2
                and isinstance(sharding.index_codecs[0], BytesCodec)
                and isinstance(sharding.index_codecs[1], Crc32cCodec)
                and sharding.index_location.value == "end"
            )
            if _plain(sharding.codecs) and index_ok:
                self.directory = root / array.path
                self.shard_rows = int(array.shards[0])  # type: ignore[index]
        if self.directory is None:
            self._zip = None

    @property
    def direct(self) -> bool:
        return self.directory is not None

    def read(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.zeros((0, self.width), dtype=self.array.dtype)
        if self.directory is None:
            return np.asarray(self.array[start:stop])
        out = np.empty((stop - start, self.width), dtype=self.dtype)
        row = start
        while row < stop:
            chunk = row // self.chunk_rows
            end = min(stop, (chunk + 1) * self.chunk_rows)
            out[row - start : end - start] = self._read_in_chunk(chunk, row, end)
            row = end
        return out

    def _file(self, index: int) -> Path:
        return Path(str(self.directory)) / "c" / str(index) / "0"

    def _locate(self, index: int) -> tuple[Path, int, int | None]:
        """(file, offset of chunk/shard `index`'s first byte in it, its size if known)."""
        if self._zip is None:
            return self._file(index), 0, None
        name = self._file(index).as_posix()
        found = self._zip.range(name)
        if found is not None:
            self._zip.verify(name)
        if found is None:
            raise StoreError(
                f"chunk {name} is missing from {self._zip.path}: the archive is damaged; "
                "download it again (`cinefeat fetch` verifies checksums)"
            )
        return self._zip.path, found[0], found[1]

    def _read_in_chunk(self, chunk: int, row: int, end: int) -> np.ndarray:
        within = (row - chunk * self.chunk_rows) * self.row_bytes
        size = (end - row) * self.row_bytes
        if self.shard_rows is None:
            path, base, limit = self._locate(chunk)
        else:
            per_shard = self.shard_rows // self.chunk_rows
            shard = chunk // per_shard
            path, base, limit = self._locate(shard)
            offset, nbytes = self._index(shard, per_shard)[chunk % per_shard]
            if offset == _EMPTY:
                return np.zeros((end - row, self.width), dtype=self.dtype)
            if int(nbytes) != self.chunk_rows * self.row_bytes:
                raise StoreError(
                    f"shard {path} holds a {int(nbytes)}-byte chunk where "
                    f"{self.chunk_rows * self.row_bytes} were expected: run `cinefeat store "
                    "validate`"
                )
            within += int(offset)
        if limit is not None and within + size > limit:
            raise StoreError(
                f"chunk {self._file(chunk).as_posix()} in {path} is truncated ({limit} bytes, "
                f"{within + size} needed): run `cinefeat store validate`; download the archive "
                "again"
            )
        data = _pread(path, base + within, size)
        return np.frombuffer(data, dtype=self.dtype).reshape(-1, self.width)

    def _index(self, shard: int, per_shard: int) -> np.ndarray:
        if shard not in self._shard_index:
            size = per_shard * 16 + 4  # (offset, nbytes) uint64 pairs + crc32c
            path, base, total = self._locate(shard)
            if total is None:
                if not path.exists():
                    _pread(path, 0, size)  # raises the "chunk file is missing" error
                total = os.path.getsize(path)
            raw = _pread(path, base + total - size, size) if total >= size else b""
            if len(raw) != size:
                raise StoreError(
                    f"shard {self._file(shard).as_posix()} in {path} is truncated: run "
                    "`cinefeat store validate`"
                )
            self._shard_index[shard] = np.frombuffer(raw[:-4], dtype="<u8").reshape(-1, 2)
        return self._shard_index[shard]


class RowWriter:
    """Writes rows into an unsharded, uncompressed local array by replacing whole chunk files.

    The array's shape must already cover the rows (resize through zarr first). A chunk that is
    only partly written is read, patched and replaced (write to a temporary file, then
    `os.replace`), so a concurrent reader sees either the old or the new chunk, never a mix.
    """

    def __init__(self, array: zarr.Array) -> None:
        self.reader = RowReader(array)
        fill = array.metadata.fill_value if array.metadata.zarr_format == 3 else 0
        self.fill = np.asarray(fill, dtype=self.reader.dtype)

    @property
    def direct(self) -> bool:
        reader = self.reader
        return reader.direct and reader.shard_rows is None and reader._zip is None

    def write(self, start: int, block: np.ndarray) -> None:
        reader = self.reader
        block = np.ascontiguousarray(block, dtype=reader.dtype).reshape(-1, reader.width)
        rows = reader.chunk_rows
        row = start
        stop = start + len(block)
        while row < stop:
            chunk = row // rows
            end = min(stop, (chunk + 1) * rows)
            path = reader._file(chunk)
            if row == chunk * rows and end == (chunk + 1) * rows:
                data = block[row - start : end - start]
            else:
                data = self._existing(path)
                data[row - chunk * rows : end - chunk * rows] = block[row - start : end - start]
            _replace(path, data.tobytes())
            row = end

    def _existing(self, path: Path) -> np.ndarray:
        reader = self.reader
        if path.exists():
            raw = _pread(path, 0, reader.chunk_rows * reader.row_bytes)
            return np.frombuffer(raw, dtype=reader.dtype).reshape(-1, reader.width).copy()
        return np.full((reader.chunk_rows, reader.width), self.fill, dtype=reader.dtype)


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _pread(path: Path, offset: int, size: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise StoreError(
            f"chunk file {path} is missing: run `cinefeat store validate` to find the damaged "
            "trailers, and re-extract them"
        ) from None
    try:
        data = os.pread(fd, size, offset) if offset >= 0 else b""
    finally:
        os.close(fd)
    if len(data) != size:
        raise StoreError(
            f"chunk file {path} is truncated ({len(data)} of {size} bytes at {offset}): run "
            "`cinefeat store validate` and re-extract the trailers it names"
        )
    return data
