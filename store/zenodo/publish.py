"""Publishing an archive folder to Zenodo: draft, upload, verify, describe, (optionally) publish.

Order matters for safety. Everything that can be checked locally is checked before the first
request (every file against the manifest, the record limits, the metadata), so a bad archive
fails in seconds with nothing created. Files are uploaded one by one, each md5 compared with the
manifest's; a mismatch deletes the server's copy and retries, then stops with nothing
published. Publishing (which mints a DOI and cannot be undone) happens only when asked; by
default the draft stays open for review at the printed URL.

Safe to rerun, whatever failed. `<archive>/.zenodo-draft.json` is the archive's publish state:
the draft's id, the sha256 of the MANIFEST.json it is for, and, before every step that is not
idempotent (create, new version, publish), the intent to take it. When a step's answer is lost,
or a later run finds an intent recorded, Zenodo is asked what happened (the deposition's
`submitted`, `state` and `doi`; the account's drafts; the record's `latest_draft`) and the run
continues from there, so a rerun never creates a second deposition or DOI for the same archive.
Files already in the draft with the right md5 are skipped (the server's listing is the truth);
an upload replaces its key, so a file is never duplicated.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cinefeat.store.archive.build import README
from cinefeat.store.archive.checksums import digest_file, md5_of_file
from cinefeat.store.archive.limits import ZENODO_LIMITS, RecordLimits, check_record_limits
from cinefeat.store.archive.manifest import MANIFEST_NAME, verify_folder
from cinefeat.store.console import progress
from cinefeat.store.zenodo.client import ZenodoClient
from cinefeat.store.zenodo.errors import ZenodoChecksumError, ZenodoError, ZenodoUnknownOutcome
from cinefeat.store.zenodo.metadata import markdown_to_html, zenodo_metadata

log = logging.getLogger(__name__)

DRAFT_STATE = ".zenodo-draft.json"
UPLOAD_ATTEMPTS = 3  # per file, when the server reports a different md5
CLOCK_SKEW_S = 300.0  # a lost create's draft may carry a server time this far behind ours


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


def _load_state(folder: Path, base_url: str) -> dict[str, Any]:
    path = folder / DRAFT_STATE
    if not path.is_file():
        return {}
    state = json.loads(path.read_text(encoding="utf-8"))
    return state if state.get("base_url") == base_url else {}


def _save_state(folder: Path, base_url: str, **state: Any) -> dict[str, Any]:
    """Write the publish state atomically (a crash mid-write must not lose an intent)."""
    state = {"base_url": base_url, **{k: v for k, v in state.items() if v is not None}}
    path = folder / DRAFT_STATE
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return state


def _adopt_lost_create(client: ZenodoClient, since: float) -> dict[str, Any] | None:
    """The empty draft a create whose answer was lost made, if Zenodo shows one."""
    for draft in client.drafts():
        created = str(draft.get("created", ""))
        try:
            when = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        empty = not draft.get("files") and not draft.get("metadata", {}).get("title")
        if empty and when >= since - CLOCK_SKEW_S:
            log.warning("adopting draft %s made by a create whose answer was lost", draft["id"])
            return draft
    return None


def _create(client: ZenodoClient, folder: Path, manifest_sha: str) -> dict[str, Any]:
    state = _load_state(folder, client.base_url)
    if state.get("intent") == "create":  # an earlier run may have created it
        draft = _adopt_lost_create(client, float(state.get("intent_at", 0)))
        if draft is not None:
            return draft
    since = time.time()
    _save_state(folder, client.base_url, manifest_sha256=manifest_sha, intent="create",
                intent_at=since)  # fmt: skip
    try:
        return client.create_deposition()
    except ZenodoUnknownOutcome:
        draft = _adopt_lost_create(client, since)
        if draft is None:
            raise
        return draft


def _open_draft(
    client: ZenodoClient,
    folder: Path,
    new_version_of: int | str | None,
    deposition_id: int | None,
    manifest_sha: str,
) -> dict[str, Any]:
    state = _load_state(folder, client.base_url)
    saved = deposition_id if deposition_id is not None else state.get("deposition_id")
    if saved is not None:
        try:
            draft = client.deposition(saved)
        except ZenodoError as error:
            if error.status != 404 or deposition_id is not None:
                raise
            log.warning("the saved draft %s no longer exists; starting a new one", saved)
            draft = None
        if draft is not None and not draft.get("submitted"):
            log.info("resuming draft %s", saved)
            return draft
        if draft is not None and deposition_id is not None:
            raise ZenodoError(
                f"deposition {saved} is already published: publish changes as a new version "
                f"with --new-version-of {saved}"
            )
    if new_version_of is not None:
        latest = client.latest_record(new_version_of)["id"]  # a concept id or DOI works too
        _save_state(folder, client.base_url, manifest_sha256=manifest_sha, intent="newversion",
                    new_version_of=latest)  # fmt: skip
        return client.new_version(latest)
    return _create(client, folder, manifest_sha)


def _already_published(
    client: ZenodoClient, folder: Path, manifest_sha: str, files: dict[str, str]
) -> PublishResult | None:
    """The published record of this very archive, when the state or Zenodo shows one."""
    state = _load_state(folder, client.base_url)
    if state.get("manifest_sha256") != manifest_sha or "deposition_id" not in state:
        return None
    if not state.get("published"):
        if state.get("intent") != "publish":
            return None
        try:  # a publish whose answer was lost: did it happen?
            deposition = client.deposition(state["deposition_id"])
        except ZenodoError as error:
            if error.status == 404:
                return None
            raise
        if not deposition.get("submitted"):
            return None
        state = _record_published(folder, client, deposition, manifest_sha)
    log.info("this archive is already published as %s; nothing to do", state.get("doi"))
    return PublishResult(
        deposition_id=int(state["deposition_id"]),
        url=str(state.get("url", "")),
        published=True,
        doi=state.get("doi"),
        skipped=sorted(files),
    )


def _record_published(
    folder: Path, client: ZenodoClient, record: dict[str, Any], manifest_sha: str
) -> dict[str, Any]:
    return _save_state(
        folder,
        client.base_url,
        deposition_id=int(record["id"]),
        manifest_sha256=manifest_sha,
        published=True,
        doi=record.get("doi") or None,
        url=record.get("links", {}).get("record_html") or record.get("links", {}).get("html"),
    )


def _publish(
    client: ZenodoClient, folder: Path, draft_id: int, manifest_sha: str
) -> dict[str, Any]:
    """POST actions/publish once; a lost answer is settled by reading the deposition."""
    _save_state(folder, client.base_url, deposition_id=draft_id, manifest_sha256=manifest_sha,
                intent="publish")  # fmt: skip
    try:
        record = client.publish(draft_id)
    except ZenodoError as error:
        # Zenodo answers 404 to publishing a published draft; a lost answer is unknown: either
        # way the deposition says whether it is published.
        if not isinstance(error, ZenodoUnknownOutcome) and error.status != 404:
            raise
        record = client.deposition(draft_id)
        if not record.get("submitted"):
            raise ZenodoError(
                f"publishing deposition {draft_id} failed ({error}) and Zenodo does not show it "
                "published; run the same `cinefeat publish --publish` again: it checks first "
                "and never publishes twice"
            ) from None
    _record_published(folder, client, record, manifest_sha)
    return record


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


def prepare(
    folder: Path, metadata: dict[str, Any], limits: RecordLimits = ZENODO_LIMITS
) -> tuple[dict[str, str], dict[str, int], dict[str, Any]]:
    """Everything checked locally, before any request: ({name: md5}, {name: size}, metadata)."""
    manifest = verify_folder(folder)  # every file hashed against the manifest before any request
    files = {entry.name: entry.md5 for entry in manifest.files}
    files[MANIFEST_NAME] = md5_of_file(folder / MANIFEST_NAME)
    sizes = {entry.name: entry.size for entry in manifest.files}
    sizes[MANIFEST_NAME] = (folder / MANIFEST_NAME).stat().st_size
    features = {n: s for n, s in sizes.items() if n.startswith("feature-")}
    others = {n: s for n, s in sizes.items() if n not in features}
    check_record_limits(features, others, limits)
    readme = folder / README
    description = markdown_to_html(readme.read_text("utf-8")) if readme.is_file() else None
    return files, sizes, zenodo_metadata(metadata, description)


def publish_plan(
    folder: str | Path,
    metadata: dict[str, Any],
    base_url: str,
    *,
    publish: bool = False,
    new_version_of: int | str | None = None,
    limits: RecordLimits = ZENODO_LIMITS,
) -> dict[str, Any]:
    """What `publish_archive` would send, without sending anything (`publish --dry-run`)."""
    folder = Path(folder)
    files, sizes, zenodo_meta = prepare(folder, metadata, limits)
    state = _load_state(folder, base_url)
    if state.get("deposition_id") is not None and not state.get("published"):
        target = f"resume draft {state['deposition_id']} (if it is still a draft)"
    elif new_version_of is not None:
        target = f"new version of the latest version of {new_version_of}"
    else:
        target = "new deposition"
    return {
        "api": base_url,
        "deposition": target,
        "metadata": {"metadata": zenodo_meta},  # the body of PUT deposit/depositions/<id>
        "files": [{"name": n, "size": sizes[n], "md5": files[n]} for n in sorted(files)],
        "publish": publish,
        "checked_by_zenodo": "license, communities, grants (not knowable offline)",
    }


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
    files, _sizes, zenodo_meta = prepare(folder, metadata, limits)
    manifest_sha = digest_file(folder / MANIFEST_NAME).sha256
    if done := _already_published(client, folder, manifest_sha, files):
        return done
    draft = _open_draft(client, folder, new_version_of, deposition_id, manifest_sha)
    draft_id = int(draft["id"])
    _save_state(folder, client.base_url, deposition_id=draft_id, manifest_sha256=manifest_sha)
    bucket = draft["links"]["bucket"]
    # Metadata first: Zenodo checks what cannot be checked offline (licence ids, communities,
    # grants) when it is sent, so a refusal comes before hours of uploading.
    client.set_metadata(draft_id, zenodo_meta)

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

    if publish:
        record = _publish(client, folder, draft_id, manifest_sha)
        result.published = True
        result.doi = record.get("doi") or None
        result.url = record.get("links", {}).get("record_html") or result.url
    return result
