"""Where each member's bytes lie inside a ZIP_STORED archive, for direct `os.pread` reads.

Why: archive members are stored uncompressed, so a zarr chunk inside `feature-<name>.zip` is a
contiguous byte range of the zip file. Going through zarr's ZipStore costs ~10 ms per random
trailer read here (see benchmarks/archive_reads.py); a reader that knows the offsets can read a
trailer's rows with one pread, as `cinefeat.store.fastread` does for directories. This module
only computes the offsets (from the central directory and each local header); the store's
reader decides whether to use them.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # fixed 30 bytes before name and extra field
LOCAL_SIGNATURE = b"PK\x03\x04"


def stored_member_ranges(zip_path: str | Path) -> dict[str, tuple[int, int]]:
    """{member name: (offset of its data in the zip file, size)} for every ZIP_STORED member.

    Compressed members are left out (their bytes are not the chunk's bytes). The local header is
    read for each member because its extra field may differ from the central directory's.
    """
    ranges: dict[str, tuple[int, int]] = {}
    with open(zip_path, "rb") as handle, zipfile.ZipFile(handle) as archive:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or info.is_dir():
                continue
            handle.seek(info.header_offset)
            header = LOCAL_HEADER.unpack(handle.read(LOCAL_HEADER.size))
            if header[0] != LOCAL_SIGNATURE:
                raise zipfile.BadZipFile(f"{zip_path}: bad local header for {info.filename!r}")
            name_length, extra_length = header[9], header[10]
            start = info.header_offset + LOCAL_HEADER.size + name_length + extra_length
            ranges[info.filename] = (start, info.file_size)
    return ranges
