"""MANIFEST.json: the list of files of a feature archive with their sizes and checksums.

The manifest is the one thing a downloader trusts: every other file is verified against it before
it is read or extracted. It also carries the store's provenance (which model, which weights, which
sampling made each feature) and the cinefeat version, so a record on Zenodo explains itself.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from cinefeat.store.archive.checksums import FileDigest, digest_file
from cinefeat.store.archive.errors import ChecksumMismatch, ManifestError
from cinefeat.store.layout import ARCHIVE_MANIFEST

MANIFEST_NAME = ARCHIVE_MANIFEST
FORMAT = "cinefeat-feature-archive"
FORMAT_VERSION = 1


def cinefeat_version() -> str:
    """The installed cinefeat version ("unknown" when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cinefeat")
    except PackageNotFoundError:
        return "unknown"


def check_file_name(name: str) -> str:
    """Refuse names that are not a single plain file name (no folders, no `..`, no drive).

    Names come from a manifest or a server listing that may be hostile; every file of an archive
    lives directly in the archive folder, so anything else is refused before a path is built.
    """
    pure = PurePosixPath(name)
    if (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or ":" in name
        or name.startswith(".")
        or pure.name != name
        or any(ord(char) < 32 for char in name)
    ):
        raise ManifestError(
            f"refusing file name {name!r}: archive files must be plain names inside the archive "
            "folder (no folders, '..', drive letters or hidden files); the archive is malformed "
            "or hostile, do not use it"
        )
    return name


@dataclass
class ManifestEntry:
    """One file of the archive."""

    name: str
    kind: str  # "feature", "metadata", "readme", "citation"
    size: int
    md5: str
    sha256: str
    feature: str | None = None  # the feature, or the group name of a zip of several
    members: int | None = None  # number of zip members (refuses zip bombs on extraction)
    uncompressed_size: int | None = None
    features: list[str] | None = None  # store features in this zip (absent: [feature])

    def digest(self) -> FileDigest:
        return FileDigest(size=self.size, md5=self.md5, sha256=self.sha256)


@dataclass
class Manifest:
    """Everything a downloader needs to verify and understand an archive folder."""

    files: list[ManifestEntry]
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    cinefeat_version: str = field(default_factory=cinefeat_version)
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def entry(self, name: str) -> ManifestEntry:
        for item in self.files:
            if item.name == name:
                return item
        raise ManifestError(f"{name!r} is not listed in {MANIFEST_NAME}")

    def names(self) -> list[str]:
        return [item.name for item in self.files]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def write(self, folder: str | Path) -> Path:
        path = Path(folder) / MANIFEST_NAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise ManifestError(
                f"not a cinefeat feature archive manifest (format={data.get('format')!r}); "
                f"expected {FORMAT!r}"
            )
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise ManifestError(
                f"manifest format {data['format_version']} is newer than this cinefeat "
                f"understands ({FORMAT_VERSION}); upgrade with: pip install -U cinefeat"
            )
        try:
            files = [ManifestEntry(**item) for item in data["files"]]
        except (KeyError, TypeError) as error:
            raise ManifestError(f"malformed {MANIFEST_NAME}: {error}") from error
        for item in files:
            check_file_name(item.name)
        fields = {k: v for k, v in data.items() if k != "files" and k in cls.__dataclass_fields__}
        return cls(files=files, **fields)

    @classmethod
    def read(cls, folder: str | Path) -> Manifest:
        path = Path(folder) / MANIFEST_NAME
        if not path.is_file():
            raise ManifestError(
                f"{path} is missing: this folder is not a feature archive (create one with "
                "`cinefeat archive STORE OUT_DIR`, or download one with `cinefeat fetch`)"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ManifestError(f"{path} is not valid JSON: {error}") from error
        return cls.from_dict(data)


def entry_for(
    path: Path, kind: str, feature: str | None = None, features: list[str] | None = None
) -> ManifestEntry:
    """Hash `path` and describe it for the manifest (`features`: the store features it holds)."""
    import zipfile

    digest = digest_file(path)
    members = uncompressed = None
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            members = len(infos)
            uncompressed = sum(info.file_size for info in infos)
    return ManifestEntry(
        name=check_file_name(path.name),
        kind=kind,
        size=digest.size,
        md5=digest.md5,
        sha256=digest.sha256,
        feature=feature,
        members=members,
        uncompressed_size=uncompressed,
        features=list(features) if features is not None else None,
    )


def verify_file(path: Path, entry: ManifestEntry) -> None:
    """Raise `ChecksumMismatch` unless `path` has the size and sha256 the manifest promises."""
    if not path.is_file():
        raise ManifestError(
            f"{path.name} is listed in {MANIFEST_NAME} but missing from {path.parent}; "
            "download it again (`cinefeat fetch` resumes)"
        )
    actual = digest_file(path)
    if actual.size != entry.size or actual.sha256 != entry.sha256:
        raise ChecksumMismatch(
            f"{path.name}: expected {entry.size} bytes with sha256 {entry.sha256}, got "
            f"{actual.size} bytes with sha256 {actual.sha256}; the file is corrupt or was "
            "tampered with: delete it and download it again"
        )


def verify_folder(folder: str | Path) -> Manifest:
    """Check every file listed in the folder's manifest; returns the manifest."""
    folder = Path(folder)
    manifest = Manifest.read(folder)
    for entry in manifest.files:
        verify_file(folder / entry.name, entry)
    return manifest
