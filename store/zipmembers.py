"""Where the bytes of each uncompressed member lie inside a zip file, for direct `os.pread` reads.

Why: feature archives are zips of stores whose members are ZIP_STORED (no compression), so a zarr
chunk inside the zip is one contiguous byte range of the zip file. Reading it through zarr's
ZipStore costs several milliseconds per trailer (a lock, a member open, a CRC pass); knowing the
offset, `directio.RowReader` reads a trailer's rows with one `pread`, as fast as from a directory.

The central directory gives each member's local header offset; the data starts after that
header's variable-length name and extra field, which may differ from the central directory's, so
the local header is read (30 bytes, once per member, on first use).
"""

from __future__ import annotations

import os
import struct
import threading
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from cinefeat.store.errors import StoreIntegrityError

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # fixed 30 bytes before name and extra field
LOCAL_SIGNATURE = b"PK\x03\x04"


def data_offset(handle: BinaryIO | int, info: zipfile.ZipInfo) -> int:
    """Offset in the zip file of the first byte of `info`'s data (`handle`: a file or an fd)."""
    if isinstance(handle, int):
        raw = os.pread(handle, LOCAL_HEADER.size, info.header_offset)
    else:
        handle.seek(info.header_offset)
        raw = handle.read(LOCAL_HEADER.size)
    if len(raw) != LOCAL_HEADER.size:
        raise zipfile.BadZipFile(f"truncated local header for {info.filename!r}")
    header = LOCAL_HEADER.unpack(raw)
    if header[0] != LOCAL_SIGNATURE:
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    name_length, extra_length = header[9], header[10]
    return info.header_offset + LOCAL_HEADER.size + name_length + extra_length


class StoredMembers:
    """The ZIP_STORED members of one zip file: `range(name)` -> (data offset, size) or None."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
        self._infos = {
            info.filename: info
            for info in infos
            if info.compress_type == zipfile.ZIP_STORED and not info.is_dir()
        }
        self.all_stored = len(self._infos) == sum(1 for info in infos if not info.is_dir())
        self._ranges: dict[str, tuple[int, int]] = {}
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    def verify(self, name: str) -> None:
        """Check member `name`'s CRC-32 once (its first direct read): zip's own check is what
        the byte-range reads skip, so a same-size tampered member would read as data."""
        if name in self._verified:
            return
        info = self._infos.get(name)
        found = self.range(name)
        if info is None or found is None:
            return
        if info.file_size <= CRC_ON_READ_MAX_BYTES:
            crc = _crc_of_range(self.path, *found)
            if crc != info.CRC:
                raise StoreIntegrityError(
                    f"member {name} of {self.path} fails its CRC-32 check ({crc:08x} != "
                    f"{info.CRC:08x}): the archive is damaged; download it again (`cinefeat "
                    "fetch` verifies checksums)"
                )
        with self._lock:
            self._verified.add(name)

    def range(self, name: str) -> tuple[int, int] | None:
        """(offset of the member's data in the zip, its size); None when there is no such member."""
        found = self._ranges.get(name)
        if found is not None:
            return found
        info = self._infos.get(name)
        if info is None:
            return None
        fd = os.open(self.path, os.O_RDONLY)
        try:
            found = (data_offset(fd, info), int(info.file_size))
        finally:
            os.close(fd)
        with self._lock:
            self._ranges[name] = found
        return found


# Larger members (shards of compacted archives) are checked by `validate` and, row by row, by the
# per-trailer digests; reading a whole large shard for one trailer would cost more than the read.
CRC_ON_READ_MAX_BYTES = 16 << 20


def _crc_of_range(path: Path, offset: int, size: int, block: int = 1 << 20) -> int:
    crc = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        for start in range(0, size, block):
            crc = zlib.crc32(os.pread(fd, min(block, size - start), offset + start), crc)
    finally:
        os.close(fd)
    return crc & 0xFFFFFFFF


def damaged_members(path: str | Path) -> list[tuple[str, str]]:
    """(member, why) for every member of the zip whose CRC-32 or size does not match (reads it
    all: `validate`)."""
    out = []
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                try:
                    with archive.open(info) as handle:
                        while handle.read(1 << 20):
                            pass
                except (zipfile.BadZipFile, OSError, EOFError) as error:
                    out.append((info.filename, f"cannot be read ({error})"))
    except (zipfile.BadZipFile, OSError) as error:
        out.append(("(central directory)", f"cannot be read ({error})"))
    return out


@lru_cache(maxsize=32)
def _members(path: str, mtime_ns: int, size: int) -> StoredMembers:
    return StoredMembers(Path(path))


def stored_members(path: str | Path) -> StoredMembers:
    """The (cached) member table of the zip at `path`; a rewritten zip is read again."""
    stat = os.stat(path)
    return _members(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
