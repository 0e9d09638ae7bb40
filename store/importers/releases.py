"""Download a published release by name (`releases.json`), verified, and unpack it safely.

`download_release("trailers12k", "data/")` fetches the files a release's importer reads into one
folder, so `cinefeat import trailers12k --download data/ --store t12k.zarr` is the whole set-up.

Why a data table: what a release *is* (URLs, sizes, checksums) changes when a publisher moves a
file, and is checked by reading the table, not code. Why these rules:

- Downloads resume: bytes go to `<name>.partial` and a rerun continues with an HTTP Range request
  (`cinefeat.store.http_download`, the same transport as the weights).
- A download stops at the listed size (or at the release's `max_bytes` where the publisher lists
  none) and must be exactly the listed size.
- md5 and sha256 are checked where the table has them. Where it has no sha256, the first verified
  download records one in `DIR/cinefeat-release.json` (trust on first use, as `extract.pretrained`
  does for weights) and every later run checks against it. A mismatch deletes the partial and
  raises before anything is renamed, unpacked or imported.
- Archives are unpacked member by member into a staging folder and moved into place only when
  complete: members with absolute paths, `..`, links or devices are refused (zip-slip, tar-slip),
  and members may not add up to more than `UNPACK_RATIO` times the archive.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cinefeat.store import http_download
from cinefeat.store.archive.checksums import digest_file
from cinefeat.store.archive.errors import ChecksumMismatch, UnsafeArchive
from cinefeat.store.archive.safe_zip import check_member
from cinefeat.store.errors import StoreError

log = logging.getLogger(__name__)

TABLE = Path(__file__).with_name("releases.json")
LEDGER = "cinefeat-release.json"
UNPACK_RATIO = 8  # zarr chunks are already compressed: a tar.gz of them expands little
USER_AGENT = "cinefeat (release download)"


class ReleaseDownloadError(StoreError):
    """A release could not be downloaded or unpacked; the message names the file and the fix."""


@dataclass(frozen=True)
class ReleaseFile:
    """One published file: where it is and what the publisher says its bytes are."""

    name: str
    url: str
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    unpack: bool = False
    default: bool = True
    what: str = ""


@dataclass(frozen=True)
class Release:
    """A release's record and files (one entry of releases.json, keyed by importer format)."""

    name: str
    title: str
    record: str
    files: tuple[ReleaseFile, ...]
    doi: str | None = None
    licence: str = ""
    max_bytes: int = 64 * 2**30

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> Release:
        files = tuple(ReleaseFile(**entry) for entry in data["files"])
        for entry in files:
            _safe_name(entry.name)
        rest = {k: v for k, v in data.items() if k != "files"}
        return cls(name=name, files=files, **rest)


@dataclass
class DownloadReport:
    """What a download did per file: downloaded, already there, unpacked, recorded."""

    release: str
    dest: str
    downloaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    unpacked: dict[str, list[str]] = field(default_factory=dict)
    recorded: list[str] = field(default_factory=list)

    def format_text(self) -> str:
        lines = [f"{self.release} in {self.dest}: {len(self.downloaded)} downloaded, "
                 f"{len(self.present)} already there"]  # fmt: skip
        lines += [f"  unpacked {name}: {', '.join(out)}" for name, out in self.unpacked.items()]
        lines += [f"  recorded sha256 of {name} (trust on first use)" for name in self.recorded]
        return "\n".join(lines)


def releases() -> dict[str, Release]:
    """Every release the table knows, by importer format."""
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    return {name: Release.from_dict(name, data) for name, data in table.items() if name[0] != "_"}


def get_release(name: str) -> Release:
    known = releases()
    if name not in known:
        raise ReleaseDownloadError(
            f"no published release is known as {name!r} (known: {', '.join(sorted(known))}); "
            "download it by hand and give its folder as SOURCE"
        )
    return known[name]


def download_release(
    release: str | Release,
    dest: str | Path,
    files: Sequence[str] | None = None,
    keep_archives: bool = False,
    progress: bool = True,
) -> DownloadReport:
    """Fetch `release`'s files (its default ones, or those named in `files`) into `dest`.

    Reruns resume partial files and skip verified ones; see the module docstring for the checks.
    """
    release = get_release(release) if isinstance(release, str) else release
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    wanted = _select(release, files)
    ledger = _read_ledger(dest, release)
    report = DownloadReport(release=release.name, dest=str(dest))
    for entry in wanted:
        record = ledger["files"].get(entry.name, {})
        unpacked = record.get("unpacked")
        if entry.unpack and unpacked and all((dest / p).exists() for p in unpacked):
            report.present.append(entry.name)
            continue
        target = dest / entry.name
        if target.is_file():
            _verify(entry, target, record, release, report, delete=False)
            report.present.append(entry.name)
        else:
            _fetch(entry, target, release, progress)
            _verify(entry, target.with_name(target.name + ".partial"), record, release, report)
            target.with_name(target.name + ".partial").replace(target)
            report.downloaded.append(entry.name)
        ledger["files"][entry.name] = record
        _write_ledger(dest, ledger)
        if entry.unpack:
            record["unpacked"] = unpack(target, dest, max_bytes=UNPACK_RATIO * record["size"])
            report.unpacked[entry.name] = record["unpacked"]
            _write_ledger(dest, ledger)
            if not keep_archives:
                target.unlink()
    return report


def _select(release: Release, files: Sequence[str] | None) -> list[ReleaseFile]:
    if not files:
        return [entry for entry in release.files if entry.default]
    by_name = {entry.name: entry for entry in release.files}
    unknown = sorted(set(files) - set(by_name))
    if unknown:
        raise ReleaseDownloadError(
            f"{release.name} has no files {unknown}; it has {', '.join(sorted(by_name))}"
        )
    return [by_name[name] for name in files]


def _fetch(entry: ReleaseFile, target: Path, release: Release, progress: bool) -> None:
    partial = target.with_name(target.name + ".partial")
    try:
        http_download.download(
            entry.url,
            partial,
            progress=progress,
            max_bytes=entry.size if entry.size is not None else release.max_bytes,
            user_agent=USER_AGENT,
        )
    except http_download.DownloadError as error:
        raise ReleaseDownloadError(
            f"{release.name}: {entry.name} could not be downloaded: {error}. Rerun the same "
            "command to resume"
        ) from error


def _verify(
    entry: ReleaseFile,
    path: Path,
    record: dict[str, Any],
    release: Release,
    report: DownloadReport,
    delete: bool = True,
) -> None:
    """Size, md5, sha256 against the table (or the sha256 recorded at first use); fills record."""
    digest = digest_file(path)
    expected_sha = entry.sha256 or record.get("sha256")
    problems = []
    if entry.size is not None and digest.size != entry.size:
        problems.append(f"{digest.size} bytes, not the {entry.size} listed")
    if entry.md5 and digest.md5 != entry.md5:
        problems.append(f"md5 {digest.md5}, not the {entry.md5} published")
    if expected_sha and digest.sha256 != expected_sha:
        source = "published" if entry.sha256 else f"recorded at first download in {LEDGER}"
        problems.append(f"sha256 {digest.sha256}, not the {expected_sha} {source}")
    if problems:
        if delete:
            path.unlink(missing_ok=True)
        fate = "it was deleted" if delete else f"delete {path} to download it again"
        raise ChecksumMismatch(
            f"{release.name}: {entry.name} from {entry.url} has {'; '.join(problems)}: refused "
            f"({fate}); nothing was unpacked or imported"
        )
    if not expected_sha:
        log.warning(
            "%s: %s has no published sha256; recording %s (trust on first use)",
            release.name, entry.name, digest.sha256,
        )  # fmt: skip
        report.recorded.append(entry.name)
    record.update(url=entry.url, size=digest.size, md5=digest.md5, sha256=digest.sha256)
    record.setdefault("verified_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    record["sha256_source"] = "published" if entry.sha256 else record.get(
        "sha256_source", "recorded at first download (trust on first use)"
    )  # fmt: skip


def downloaded_file(folder: str | Path, name: str) -> dict[str, Any] | None:
    """What `download_release` recorded of file `name` in `folder` (url, size, md5, sha256),
    or None: an importer's provenance names the very bytes fetched."""
    path = Path(folder) / LEDGER
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("files", {}).get(name)


def _read_ledger(dest: Path, release: Release) -> dict[str, Any]:
    path = dest / LEDGER
    if not path.is_file():
        return {"release": release.name, "record": release.record, "files": {}}
    ledger = json.loads(path.read_text(encoding="utf-8"))
    if ledger.get("release") != release.name:
        raise ReleaseDownloadError(
            f"{dest} holds the release {ledger.get('release')!r}, not {release.name!r}: "
            "download each release into its own folder"
        )
    return ledger


def _write_ledger(dest: Path, ledger: dict[str, Any]) -> None:
    tmp = dest / f".{LEDGER}.tmp"
    tmp.write_text(json.dumps(ledger, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(dest / LEDGER)


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if len(path.parts) != 1 or name in (".", "..") or "\\" in name or name.startswith("."):
        raise ReleaseDownloadError(f"release file name {name!r} is not a plain file name")
    return path


def unpack(archive: str | Path, dest: str | Path, max_bytes: int | None = None) -> list[str]:
    """Unpack a `.tar*` or `.zip` into `dest`; returns the top-level names it put there.

    Member by member into a staging folder beside `dest`, each checked before it is written
    (no absolute paths, `..`, links, devices; at most `max_bytes` in all), then each top-level
    entry is renamed into `dest`; one that already exists there is refused, not overwritten.
    """
    archive, dest = Path(archive), Path(dest)
    staging = Path(tempfile.mkdtemp(prefix=f".unpack-{archive.name}-", dir=dest))
    try:
        if zipfile.is_zipfile(archive):
            _unzip(archive, staging, max_bytes)
        else:
            _untar(archive, staging, max_bytes)
        names = sorted(os.listdir(staging))
        clashes = [name for name in names if (dest / name).exists()]
        if clashes:
            raise UnsafeArchive(
                f"{archive.name} holds {clashes}, which already exist in {dest}: remove them and "
                "rerun (nothing was overwritten)"
            )
        for name in names:
            (staging / name).replace(dest / name)
        return names
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _untar(archive: Path, staging: Path, max_bytes: int | None) -> None:
    total = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:  # one pass: each member is checked, then written
                _check_tar_member(archive, member)
                total += member.size
                if max_bytes is not None and total > max_bytes:
                    raise UnsafeArchive(
                        f"{archive.name} expands past {max_bytes} bytes; refusing it (a bomb?)"
                    )
                tar.extract(member, staging, filter="data")
    except (tarfile.TarError, EOFError, OSError) as error:
        if isinstance(error, tarfile.FilterError):
            raise UnsafeArchive(f"{archive.name}: {error}; refusing the archive") from error
        raise ReleaseDownloadError(f"{archive} is not a readable archive ({error})") from error


def _check_tar_member(archive: Path, member: tarfile.TarInfo) -> None:
    if not (member.isfile() or member.isdir()):
        kind = "a link" if member.issym() or member.islnk() else "not a regular file"
        raise UnsafeArchive(f"{archive.name}: member {member.name!r} is {kind}; refusing it")
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or "\\" in member.name:
        raise UnsafeArchive(
            f"{archive.name}: member {member.name!r} would be written outside the target "
            "folder; refusing the archive"
        )


def _unzip(archive: Path, staging: Path, max_bytes: int | None) -> None:
    with zipfile.ZipFile(archive) as zipped:
        infos = zipped.infolist()
        paths = [check_member(info) for info in infos]  # zip-slip, links, devices
        total = sum(info.file_size for info in infos)
        if max_bytes is not None and total > max_bytes:
            raise UnsafeArchive(f"{archive.name} expands to {total} bytes; refusing it (a bomb?)")
        for info, relative in zip(infos, paths, strict=True):
            destination = staging / relative
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as src, open(destination, "xb") as dst:
                shutil.copyfileobj(src, dst, 4 * 1024 * 1024)  # ZipFile checks each CRC-32
            os.chmod(destination, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
