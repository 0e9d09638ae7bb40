"""Feature archives: a store split into verified zips, ready for one Zenodo record.

`build_archive` writes the folder, `open_archive` reads it back as one store, `extract_archive`
and `safe_extract` unpack it safely. See docs/publishing.md.
"""

from cinefeat.store.archive.build import build_archive
from cinefeat.store.archive.compose import ArchiveStore, extract_archive, open_archive
from cinefeat.store.archive.errors import (
    ArchiveError,
    ChecksumMismatch,
    ManifestError,
    RecordLimitExceeded,
    UnsafeArchive,
)
from cinefeat.store.archive.limits import ZENODO_LIMITS, RecordLimits, check_record_limits
from cinefeat.store.archive.manifest import MANIFEST_NAME, Manifest, verify_folder
from cinefeat.store.archive.safe_zip import safe_extract, write_stored_zip

__all__ = [
    "MANIFEST_NAME",
    "ZENODO_LIMITS",
    "ArchiveError",
    "ArchiveStore",
    "ChecksumMismatch",
    "Manifest",
    "ManifestError",
    "RecordLimitExceeded",
    "RecordLimits",
    "UnsafeArchive",
    "build_archive",
    "check_record_limits",
    "extract_archive",
    "open_archive",
    "safe_extract",
    "verify_folder",
    "write_stored_zip",
]
