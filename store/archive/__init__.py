"""Feature archives: a store split into verified zips, ready for one Zenodo record.

`build_archive` writes the folder, `open_archive` reads it back as one store, `extract_archive`
and `safe_extract` unpack it safely. See docs/publishing.md. The errors are imported at once,
everything else on first use (`cinefeat.store.lazy`): the CLI names the errors at start-up and
must not import zarr for it.
"""

from typing import TYPE_CHECKING

from cinefeat.store.archive.errors import (
    ArchiveError,
    ChecksumMismatch,
    ManifestError,
    RecordLimitExceeded,
    UnsafeArchive,
)
from cinefeat.store.lazy import lazy_exports

if TYPE_CHECKING:
    from cinefeat.store.archive.build import build_archive
    from cinefeat.store.archive.compose import ArchiveStore, extract_archive, open_archive
    from cinefeat.store.archive.limits import (
        ZENODO_LIMITS,
        RecordLimits,
        check_record_limits,
    )
    from cinefeat.store.archive.manifest import MANIFEST_NAME, Manifest, verify_folder
    from cinefeat.store.archive.safe_zip import safe_extract, write_stored_zip

_PACKAGE = "cinefeat.store.archive"
_LAZY = {
    "build_archive": f"{_PACKAGE}.build",
    "ArchiveStore": f"{_PACKAGE}.compose",
    "extract_archive": f"{_PACKAGE}.compose",
    "open_archive": f"{_PACKAGE}.compose",
    "ZENODO_LIMITS": f"{_PACKAGE}.limits",
    "RecordLimits": f"{_PACKAGE}.limits",
    "check_record_limits": f"{_PACKAGE}.limits",
    "MANIFEST_NAME": f"{_PACKAGE}.manifest",
    "Manifest": f"{_PACKAGE}.manifest",
    "verify_folder": f"{_PACKAGE}.manifest",
    "safe_extract": f"{_PACKAGE}.safe_zip",
    "write_stored_zip": f"{_PACKAGE}.safe_zip",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

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
