"""Publishing an archive folder to Zenodo: draft, upload, verify, describe, (optionally) publish.

Order matters for safety. Everything that can be checked locally is checked before the first
request (every file against the manifest, the record limits, the metadata), so a bad archive
fails in seconds with nothing created. Files are uploaded one by one, each md5 compared with the
manifest's; a mismatch deletes the server's copy and retries, then stops with nothing
published. Publishing (which mints a DOI and cannot be undone) happens only when asked; by
default the draft stays open for review at the printed URL.

Resuming: the draft's id is kept in `<archive>/.zenodo-draft.json`; running `publish` again reuses
the draft and skips every file already there with the right md5.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cinefeat.store.archive.build import README
from cinefeat.store.archive.checksums import md5_of_file
from cinefeat.store.archive.limits import ZENODO_LIMITS, RecordLimits, check_record_limits
from cinefeat.store.archive.manifest import MANIFEST_NAME, verify_folder
from cinefeat.store.console import progress
from cinefeat.store.zenodo.client import ZenodoClient
from cinefeat.store.zenodo.errors import ZenodoChecksumError, ZenodoError
from cinefeat.store.zenodo.metadata import markdown_to_html, zenodo_metadata

log = logging.getLogger(__name__)

DRAFT_STATE = ".zenodo-draft.json"
UPLOAD_ATTEMPTS = 3  # per file, when the server reports a different md5


@dataclass
class PublishResult:
    deposition_id: int
    url: str
    published: bool
    doi: str | None = None
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _server_md5(entry: dict[str, Any]) -> str:
    """md5 hex from a bucket entry ("md5:<hex>") or a deposition file entry ("<hex>")."""
    return str(entry.get("checksum", "")).removeprefix("md5:")


def _load_state(folder: Path, base_url: str) -> int | None:
    path = folder / DRAFT_STATE
    if not path.is_file():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    return int(state["deposition_id"]) if state.get("base_url") == base_url else None


def _save_state(folder: Path, base_url: str, deposition_id: int) -> None:
    state = {"base_url": base_url, "deposition_id": deposition_id}
    (folder / DRAFT_STATE).write_text(json.dumps(state) + "\n", encoding="utf-8")


def _open_draft(
    client: ZenodoClient, folder: Path, new_version_of: int | str | None, deposition_id: int | None
) -> dict[str, Any]:
    if new_version_of is not None:
        return client.new_version(new_version_of)
    saved = deposition_id if deposition_id is not None else _load_state(folder, client.base_url)
    if saved is not None:
        try:
            draft = client.deposition(saved)
        except ZenodoError as error:
            if error.status != 404 or deposition_id is not None:
                raise
            log.warning("the saved draft %s no longer exists; starting a new one", saved)
            return client.create_deposition()
        if not draft.get("submitted"):
            log.info("resuming draft %s", saved)
            return draft
        if deposition_id is not None:
            raise ZenodoError(
                f"deposition {saved} is already published: publish changes as a new version "
                f"with --new-version-of {saved}"
            )
    return client.create_deposition()


def _upload_checked(client: ZenodoClient, bucket: str, path: Path, md5: str) -> None:
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        entry = client.upload(bucket, path.name, path)
        got = _server_md5(entry)
        if got == md5:
            return
        log.warning(
            "%s: server stored md5 %s, expected %s (attempt %d of %d); re-uploading",
            path.name, got, md5, attempt, UPLOAD_ATTEMPTS,
        )  # fmt: skip
        client.delete_bucket_file(bucket, path.name)
    raise ZenodoChecksumError(
        f"{path.name}: Zenodo kept reporting md5 {got} instead of {md5} after "
        f"{UPLOAD_ATTEMPTS} uploads; nothing was published. The draft is kept: run the same "
        "`cinefeat publish` again later to resume"
    )


def publish_archive(
    client: ZenodoClient,
    folder: str | Path,
    metadata: dict[str, Any],
    *,
    publish: bool = False,
    new_version_of: int | str | None = None,
    deposition_id: int | None = None,
    limits: RecordLimits = ZENODO_LIMITS,
) -> PublishResult:
    """Upload the archive `folder` into a Zenodo draft (new, resumed, or a new version)."""
    folder = Path(folder)
    manifest = verify_folder(folder)  # every file hashed against the manifest before any request
    files = {entry.name: entry.md5 for entry in manifest.files}
    files[MANIFEST_NAME] = md5_of_file(folder / MANIFEST_NAME)
    sizes = {entry.name: entry.size for entry in manifest.files}
    features = {n: s for n, s in sizes.items() if n.startswith("feature-")}
    others = {n: s for n, s in sizes.items() if n not in features}
    others[MANIFEST_NAME] = (folder / MANIFEST_NAME).stat().st_size
    check_record_limits(features, others, limits)
    readme = folder / README
    description = markdown_to_html(readme.read_text("utf-8")) if readme.is_file() else None
    zenodo_meta = zenodo_metadata(metadata, description)

    draft = _open_draft(client, folder, new_version_of, deposition_id)
    draft_id = int(draft["id"])
    _save_state(folder, client.base_url, draft_id)
    bucket = draft["links"]["bucket"]

    present: dict[str, str] = {}
    for entry in client.deposition_files(draft_id):
        name = entry.get("filename") or entry.get("key")
        if name in files and _server_md5(entry) == files[name]:
            present[name] = files[name]
        else:  # left over from an older version or a broken upload
            log.info("removing %s from the draft", name)
            client.delete_deposition_file(draft_id, entry["id"])

    result = PublishResult(
        deposition_id=draft_id, url=draft["links"].get("html", ""), published=False
    )
    for name in progress(sorted(files), desc="upload", unit="file"):
        if name in present:
            result.skipped.append(name)
            continue
        _upload_checked(client, bucket, folder / name, files[name])
        result.uploaded.append(name)

    client.set_metadata(draft_id, zenodo_meta)
    if publish:
        record = client.publish(draft_id)
        result.published = True
        result.doi = record.get("doi") or None
        result.url = record.get("links", {}).get("record_html") or result.url
        (folder / DRAFT_STATE).unlink(missing_ok=True)
    return result
