"""Where each member's bytes lie inside a ZIP_STORED archive, for direct `os.pread` reads.

Why: archive members are stored uncompressed, so a zarr chunk inside `feature-<name>.zip` is a
contiguous byte range of the zip file. Going through zarr's ZipStore costs milliseconds per random
trailer read (see benchmarks/archive_reads.py); the store's reader (`cinefeat.store.directio`,
through `cinefeat.store.zipmembers`) uses these offsets to read a trailer's rows with one pread,
as it does from a directory. This function lists them all at once (for tools and tests).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from cinefeat.store.zipmembers import LOCAL_HEADER, LOCAL_SIGNATURE, data_offset

__all__ = ["LOCAL_HEADER", "LOCAL_SIGNATURE", "stored_member_ranges"]


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
            ranges[info.filename] = (data_offset(handle, info), info.file_size)
    return ranges
