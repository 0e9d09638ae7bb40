"""`fetch_record`: download a published feature archive from Zenodo, verified, and open it.

Downloads resume: bytes go to `<name>.partial` and a retry (or a later run) continues with an HTTP
Range request from where it stopped, so a dropped connection on a 40 GB file costs seconds, not
hours. A file is renamed into place only after its md5 matches Zenodo's listing; then every file
is checked against MANIFEST.json (sha256) before the archive is opened as a store.

A record id, a version DOI, a concept id or a concept DOI all work: Zenodo answers 404 to
`GET /api/records/<concept id>`, so a 404 is retried as `/records/<id>/versions/latest`, which
takes either and leads to the latest version (invenio-rdm-records RDMRecordResource.read_latest).

A hostile server or record cannot turn a fetch against the user: names cannot leave `dest`;
the client sends its token only to the API's own origin (never to hosts named in file links);
a download stops at the size the record lists and fails if more, fewer or different bytes come;
the manifest must agree with the record's own md5s and sizes before anything else is fetched; and
zips with compressed members or members the manifest does not announce are refused before they
are read (`check_zip_members`), so disk and memory stay within the listed sizes.
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
from cinefeat.store.archive.safe_zip import check_zip_members
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
MAX_MANIFEST_BYTES = 64 * 2**20  # a manifest lists files; anything larger is not one
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
        if size < 0:
            raise ZenodoError(f"record lists {name} without a size: refusing an unbounded download")
        md5 = str(item.get("checksum", "")).removeprefix("md5:")
        links = item.get("links", {})
        url = links.get("content") or links.get("self") or links.get("download")
        if not url:
            raise ZenodoError(f"record lists {name} without a download link")
        out.append((name, size, md5, url))
    return out


class OversizedDownload(ZenodoError):
    """The server sent more bytes than the record lists for a file."""


def _write_capped(response: Any, out: Any, have: int, size: int, name: str) -> int:
    """Write the answer's bytes up to `size` in total; more than that is refused."""
    for chunk in response.iter_content(CHUNK_BYTES):
        room = size - have
        if len(chunk) > room:
            out.write(chunk[:room])
            raise OversizedDownload(
                f"{name}: the server sent more than the {size} bytes the record lists; the "
                "download was stopped and deleted (the server is broken or hostile)"
            )
        out.write(chunk)
        have += len(chunk)
    return have


def download_file(client: ZenodoClient, url: str, target: Path, size: int, md5: str) -> bool:
    """Download `url` to `target` with resume; returns False when it was already complete.

    Never writes more than `size` bytes: the listing's size bounds the disk a download can use.
    """
    if target.is_file() and target.stat().st_size == size and md5_of_file(target) == md5:
        return False
    partial = target.with_name(target.name + ".partial")
    import requests

    for attempt in range(DOWNLOAD_ATTEMPTS):
        have = partial.stat().st_size if partial.exists() else 0
        if have > size:
            partial.unlink()
            have = 0
        if have == size:
            break
        headers = {"Range": f"bytes={have}-"} if have else None
        response = client.request("GET", url, headers=headers, stream=True, ok=(200, 206))
        resumed = response.status_code == 206 and response.headers.get(
            "Content-Range", ""
        ).startswith(f"bytes {have}-")
        if not resumed:
            have = 0
        try:
            with response, open(partial, "ab" if resumed else "wb") as out:
                have = _write_capped(response, out, have, size, target.name)
            if have == size:
                break
        except OversizedDownload:
            partial.unlink(missing_ok=True)
            raise
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            log.warning("%s: %s; resuming (attempt %d)", target.name, error, attempt + 1)
            client.sleep(min(client.backoff_s * 2**attempt, client.max_wait_s))
    got = partial.stat().st_size if partial.exists() else 0
    if got != size:
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


def fetch_metadata(client: ZenodoClient, record_or_doi: str) -> dict[str, Any]:
    """The record named by a record id, version DOI, concept id or concept DOI (latest version)."""
    record_id = resolve_record_id(record_or_doi)
    try:
        return client.record(record_id)
    except ZenodoError as error:
        if error.status != 404:
            raise
    return client.latest_record(record_id)  # a concept id: Zenodo's records/<id> is 404


def check_manifest_against_record(
    manifest: Manifest, files: dict[str, tuple[int, str, str]], wanted: set[str]
) -> None:
    """The manifest must describe the very files the record lists (size and md5)."""
    for entry in manifest.files:
        if entry.name not in wanted or entry.name not in files:
            continue
        size, md5 = files[entry.name][0], files[entry.name][1]
        if (entry.size, entry.md5) != (size, md5):
            raise ChecksumMismatch(
                f"{MANIFEST_NAME} says {entry.name} has {entry.size} bytes, md5 {entry.md5}, but "
                f"the record lists {size} bytes, md5 {md5}: the archive does not match its "
                "record; refusing it before downloading anything else"
            )


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
    checked against it (sha256) before the archive is opened. A client without a token that is
    refused (a restricted record) gets an error naming `--auth` (`ZenodoClient._raise`).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    record = fetch_metadata(client, record_or_doi)
    files = {name: (size, md5, url) for name, size, md5, url in record_files(record)}
    if MANIFEST_NAME not in files:
        raise ZenodoError(
            f"record {record_or_doi} has no {MANIFEST_NAME}: it is not a cinefeat feature "
            "archive (publish one with `cinefeat archive` + `cinefeat publish`)"
        )
    size, md5, url = files[MANIFEST_NAME]
    if size > MAX_MANIFEST_BYTES:
        raise ZenodoError(f"{MANIFEST_NAME} is listed as {size} bytes: not a cinefeat manifest")
    download_file(client, url, dest / MANIFEST_NAME, size, md5)
    manifest = Manifest.read(dest)
    wanted = wanted_names(manifest, only)
    missing = sorted(wanted - set(files))
    if missing:
        raise ZenodoError(
            f"record {record_or_doi} lacks {missing}, which its {MANIFEST_NAME} lists: the "
            "record is incomplete; ask its authors to upload them"
        )
    check_manifest_against_record(manifest, files, wanted)
    for name in progress(sorted(wanted), desc="fetch", unit="file"):
        if download_file(client, files[name][2], dest / name, files[name][0], files[name][1]):
            log.info("downloaded %s", name)
    for entry in manifest.files:  # sha256 of every file fetched, against the manifest
        if entry.name in wanted:
            verify_file(dest / entry.name, entry)
            if entry.name.endswith(".zip"):
                check_zip_members(dest / entry.name, entry)
    return open_archive(dest, verify="none")
