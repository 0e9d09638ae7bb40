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
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

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
        self._lock = threading.Lock()

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


@lru_cache(maxsize=32)
def _members(path: str, mtime_ns: int, size: int) -> StoredMembers:
    return StoredMembers(Path(path))


def stored_members(path: str | Path) -> StoredMembers:
    """The (cached) member table of the zip at `path`; a rewritten zip is read again."""
    stat = os.stat(path)
    return _members(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
