"""Writing store zips for fast random reads, and extracting untrusted zips safely.

Writing: members are ZIP_STORED (no compression) so zarr's ZipStore reads a chunk with one seek;
feature values are float16 and compress poorly anyway.

Extracting: a downloaded zip is untrusted. Before any byte is written we check the zip file against
the manifest (size, sha256), then every member name: absolute paths, `..`, drive letters,
backslashes and symlink/device members are refused (zip-slip), as are member counts or sizes the
manifest did not announce, and compressed members, which cinefeat never writes (zip bombs: a
manifest updated to match a bomb does not make it safe). Extraction goes to a temporary folder
beside the target and is renamed into place only when complete, so a refused or interrupted
extraction leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from cinefeat.store.archive.errors import UnsafeArchive
from cinefeat.store.archive.manifest import ManifestEntry, verify_file


def write_stored_zip(source_dir: str | Path, zip_path: str | Path) -> Path:
    """Zip the contents of `source_dir` (paths relative to it) without compression.

    Members are written in sorted order with a fixed timestamp, so the same store gives the same
    bytes (and checksum) twice. Symlinks in the source are refused rather than followed.
    """
    source_dir = Path(source_dir)
    zip_path = Path(zip_path)
    files: list[Path] = []
    for path in sorted(source_dir.rglob("*")):
        if path.is_symlink():
            raise UnsafeArchive(
                f"{path} is a symbolic link; a store to archive must hold plain files only "
                "(copy the target in place of the link)"
            )
        if path.is_file():
            files.append(path)
    partial = zip_path.with_name(zip_path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as out:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source_dir).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            with open(path, "rb") as src, out.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 4 * 1024 * 1024)
    os.replace(partial, zip_path)
    return zip_path


def check_member(info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's safe relative path, or `UnsafeArchive` naming why it is refused."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeArchive(f"zip member {name!r} is a symbolic link; refusing the archive")
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UnsafeArchive(f"zip member {name!r} is not a regular file; refusing the archive")
    if "\\" in name or "\x00" in name:
        raise UnsafeArchive(f"zip member {name!r} has a backslash or NUL; refusing the archive")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]) or ".." in path.parts:
        raise UnsafeArchive(
            f"zip member {name!r} would be written outside the target folder (zip-slip); "
            "refusing the archive"
        )
    return path


def check_zip_members(zip_path: str | Path, entry: ManifestEntry | None = None) -> None:
    """Refuse a zip cinefeat could not have written, before any member is read.

    cinefeat writes only ZIP_STORED members, so each member's size is its size inside the zip
    file and the members together cannot exceed the file: reading or extracting one is bounded
    by the size the record listed. A compressed member (a zip bomb hides here even when its
    manifest was updated to match) is refused, as are member counts and sizes that differ from
    the manifest's and members whose sizes add up to more than the file holds.
    """
    zip_path = Path(zip_path)
    file_size = zip_path.stat().st_size
    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
    for info in infos:
        check_member(info)
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise UnsafeArchive(
                f"{zip_path.name}: member {info.filename!r} is compressed ({info.compress_size} "
                f"bytes expand to {info.file_size}); cinefeat archives store members "
                "uncompressed, so this archive was not made by cinefeat: refusing it"
            )
    total = sum(info.file_size for info in infos)
    if total > file_size:
        raise UnsafeArchive(
            f"{zip_path.name}: members add up to {total} bytes in a {file_size}-byte file "
            "(overlapping members); refusing it"
        )
    if entry is not None and (entry.members, entry.uncompressed_size) != (len(infos), total):
        raise UnsafeArchive(
            f"{zip_path.name} has {len(infos)} members / {total} bytes uncompressed but the "
            f"manifest announces {entry.members} / {entry.uncompressed_size}; refusing it"
        )


def safe_extract(
    zip_path: str | Path, target: str | Path, entry: ManifestEntry | None = None
) -> Path:
    """Extract `zip_path` into the new folder `target` after verifying it; returns `target`.

    With `entry` (the zip's line of MANIFEST.json) the zip's sha256 and size, member count and
    total uncompressed size must all match; without it only the member checks apply.
    """
    zip_path, target = Path(zip_path), Path(target)
    if entry is not None:
        verify_file(zip_path, entry)
    if target.exists():
        raise UnsafeArchive(f"{target} already exists; remove it or extract somewhere else")
    check_zip_members(zip_path, entry)
    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
        members = [(info, check_member(info)) for info in infos]
        total = sum(info.file_size for info in infos)
        if entry is not None and (entry.members, entry.uncompressed_size) != (len(infos), total):
            raise UnsafeArchive(
                f"{zip_path.name} has {len(infos)} members / {total} bytes uncompressed but the "
                f"manifest announces {entry.members} / {entry.uncompressed_size}; refusing it"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            root = staging.resolve()
            for info, relative in members:
                destination = (staging / relative).resolve()
                if destination != root and root not in destination.parents:
                    raise UnsafeArchive(f"zip member {info.filename!r} escapes the target folder")
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                # ZipFile.open checks each member's CRC-32 as it is read.
                with archive.open(info) as src, open(destination, "xb") as dst:
                    shutil.copyfileobj(src, dst, 4 * 1024 * 1024)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target
