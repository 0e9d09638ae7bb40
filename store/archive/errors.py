"""Typed errors of feature archives; each message says what to do about it."""

from __future__ import annotations

from cinefeat.store.errors import CinefeatError


class ArchiveError(CinefeatError):
    """Base class: something about a feature archive is wrong or cannot be done."""


class RecordLimitExceeded(ArchiveError):
    """The planned files do not fit in one Zenodo record (100 files, 50 GB)."""


class UnsafeArchive(ArchiveError):
    """A zip member would escape the target directory, is a link, or is otherwise unsafe."""


class ChecksumMismatch(ArchiveError):
    """A file's bytes do not match the checksum the manifest (or the server) promised."""


class ManifestError(ArchiveError):
    """MANIFEST.json is missing, malformed, or lists a file that is not there."""
