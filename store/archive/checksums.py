"""Streaming file digests: size, md5 and sha256 in one read.

Zenodo reports md5 for every file it stores, so md5 is what we can compare against the server;
sha256 is what the manifest promises users (md5 is not collision resistant). Archives can be tens of
gigabytes, so files are hashed in chunks, never loaded whole.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileDigest:
    """What the manifest records for one file."""

    size: int
    md5: str
    sha256: str


def digest_file(path: str | Path, chunk_bytes: int = CHUNK_BYTES) -> FileDigest:
    """Size, md5 and sha256 of `path`, reading it once in `chunk_bytes` pieces."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return FileDigest(size=size, md5=md5.hexdigest(), sha256=sha256.hexdigest())


def md5_of_file(path: str | Path, chunk_bytes: int = CHUNK_BYTES) -> str:
    """md5 hex digest only (what Zenodo's file listings carry)."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            md5.update(chunk)
    return md5.hexdigest()
