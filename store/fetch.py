"""`fetch_record`: download a published feature archive from Zenodo, verified, and open it.

Downloads resume: bytes go to `<name>.partial` and a retry (or a later run) continues with an HTTP
Range request from where it stopped, so a dropped connection on a 40 GB file costs seconds, not
hours. A file is renamed into place only after its md5 matches Zenodo's listing; then every file
is checked against MANIFEST.json (sha256) before the archive is opened as a store. File names
from the server are checked too: a hostile listing cannot write outside `dest`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from cinefeat.store.archive.checksums import md5_of_file
from cinefeat.store.archive.compose import ArchiveStore, open_archive
from cinefeat.store.archive.errors import ChecksumMismatch
from cinefeat.store.archive.manifest import MANIFEST_NAME, Manifest, check_file_name, verify_file
from cinefeat.store.console import progress
from cinefeat.store.zenodo.client import ZenodoClient
from cinefeat.store.zenodo.errors import ZenodoError

log = logging.getLogger(__name__)

RECORD_PATTERNS = (
    re.compile(r"^(\d+)$"),
    re.compile(r"10\.\d{4,9}/zenodo\.(\d+)$", re.IGNORECASE),
    re.compile(r"zenodo\.org/(?:api/)?records?/(\d+)/?$"),
)
DOWNLOAD_ATTEMPTS = 8
CHUNK_BYTES = 64 * 1024  # bytes kept on a dropped connection are whole chunks


def resolve_record_id(record_or_doi: str) -> str:
    """`123`, `10.5281/zenodo.123`, `https://doi.org/10.5281/zenodo.123` or a record URL -> 123."""
    text = record_or_doi.strip()
    for pattern in RECORD_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1)
    raise ZenodoError(
        f"{record_or_doi!r} is not a Zenodo record id or DOI: give e.g. 1234567, "
        "10.5281/zenodo.1234567 or https://zenodo.org/records/1234567"
    )


def record_files(record: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    """(name, size, md5, download URL) of each file of a record (current and legacy listings)."""
    out = []
    for item in record.get("files") or []:
        name = check_file_name(str(item.get("key") or item.get("filename")))
        size = int(item.get("size", item.get("filesize", -1)))
        md5 = str(item.get("checksum", "")).removeprefix("md5:")
        links = item.get("links", {})
        url = links.get("content") or links.get("self") or links.get("download")
        if not url:
            raise ZenodoError(f"record lists {name} without a download link")
        out.append((name, size, md5, url))
    return out


def download_file(client: ZenodoClient, url: str, target: Path, size: int, md5: str) -> bool:
    """Download `url` to `target` with resume; returns False when it was already complete."""
    if target.is_file() and target.stat().st_size == size and md5_of_file(target) == md5:
        return False
    partial = target.with_name(target.name + ".partial")
    import requests

    for attempt in range(DOWNLOAD_ATTEMPTS):
        have = partial.stat().st_size if partial.exists() else 0
        if have > size >= 0:
            partial.unlink()
            have = 0
        if have == size:
            break
        headers = {"Range": f"bytes={have}-"} if have else None
        response = client.request("GET", url, headers=headers, stream=True, ok=(200, 206))
        mode = "ab" if have and response.status_code == 206 else "wb"
        try:
            with response, open(partial, mode) as out:
                for chunk in response.iter_content(CHUNK_BYTES):
                    out.write(chunk)
            if partial.stat().st_size == size or size < 0:
                break
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            log.warning("%s: %s; resuming (attempt %d)", target.name, error, attempt + 1)
            client.sleep(min(client.backoff_s * 2**attempt, client.max_wait_s))
    got = partial.stat().st_size if partial.exists() else 0
    if size >= 0 and got != size:
        raise ZenodoError(
            f"{target.name}: got {got} of {size} bytes after {DOWNLOAD_ATTEMPTS} attempts; "
            "run `cinefeat fetch` again to resume"
        )
    if md5 and md5_of_file(partial) != md5:
        partial.unlink()
        raise ChecksumMismatch(
            f"{target.name}: md5 differs from Zenodo's listing ({md5}); the partial download was "
            "deleted: run `cinefeat fetch` again"
        )
    partial.replace(target)
    return True


def wanted_names(manifest: Manifest, only: list[str] | None) -> set[str]:
    """Files of the archive to fetch: all, or the feature zips holding `only` + every other file."""
    from cinefeat.store.archive.compose import entry_features

    holds = {entry.name: entry_features(entry) for entry in manifest.files}
    if not only:
        return set(holds)
    available = sorted(f for features in holds.values() for f in features)
    unknown = sorted(set(only) - set(available))
    if unknown:
        raise ZenodoError(
            f"features {unknown} are not in this record (it has {available}): pick from those "
            "with --features"
        )
    return {name for name, features in holds.items() if not features or set(features) & set(only)}


def fetch_record(
    client: ZenodoClient, record_or_doi: str, dest: str | Path, only: list[str] | None = None
) -> ArchiveStore:
    """Download a record's files into `dest` (resuming), verify them, and open the archive.

    The manifest comes first: it says which zip holds which features (`only` keeps the zips
    holding those; metadata, data card and citation always come), and every file fetched is then
    checked against it (sha256) before the archive is opened.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    record = client.record(resolve_record_id(record_or_doi))
    files = {name: (size, md5, url) for name, size, md5, url in record_files(record)}
    if MANIFEST_NAME not in files:
        raise ZenodoError(
            f"record {record_or_doi} has no {MANIFEST_NAME}: it is not a cinefeat feature "
            "archive (publish one with `cinefeat archive` + `cinefeat publish`)"
        )
    size, md5, url = files[MANIFEST_NAME]
    download_file(client, url, dest / MANIFEST_NAME, size, md5)
    manifest = Manifest.read(dest)
    wanted = wanted_names(manifest, only)
    missing = sorted(wanted - set(files))
    if missing:
        raise ZenodoError(
            f"record {record_or_doi} lacks {missing}, which its {MANIFEST_NAME} lists: the "
            "record is incomplete; ask its authors to upload them"
        )
    for name in progress(sorted(wanted), desc="fetch", unit="file"):
        if download_file(client, files[name][2], dest / name, files[name][0], files[name][1]):
            log.info("downloaded %s", name)
    for entry in manifest.files:  # sha256 of every file fetched, against the manifest
        if entry.name in wanted:
            verify_file(dest / entry.name, entry)
    return open_archive(dest, verify="none")
