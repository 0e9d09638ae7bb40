"""The seven real failures of publishing and fetching (issue 15), each reproduced against the fake.

Every test here failed on the client before the fix (main at d471b14), run against this fake,
which answers as Zenodo does (see fake_zenodo.py for the source of each behaviour): a lost
publish answer minted a second DOI on rerun; a concept DOI was a 404; unquoted dates crashed
after the uploads; a bad enum was sent; a second host named in the file links received the
token; an endless answer filled the disk; a zip bomb with a matching manifest opened.
"""

from __future__ import annotations

import json
import threading
import tracemalloc
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cinefeat.store.archive import build_archive, open_archive
from cinefeat.store.archive.errors import ArchiveError
from cinefeat.store.archive.manifest import MANIFEST_NAME, Manifest, entry_for
from cinefeat.store.fetch import fetch_record
from cinefeat.store.publish_cli import fetch_command, publish_command
from cinefeat.store.zenodo.client import ZenodoClient
from cinefeat.store.zenodo.errors import ZenodoError, ZenodoMetadataError
from cinefeat.store.zenodo.metadata import read_metadata_file
from cinefeat.store.zenodo.publish import publish_archive


@pytest.fixture
def reader(fake_zenodo, sleeps) -> ZenodoClient:
    return ZenodoClient(None, fake_zenodo.api, backoff_s=0.001, sleep=sleeps.append)


# -- 1. a lost publish answer, then a rerun: one record, one DOI --------------------------------


def test_lost_publish_answer_then_rerun_leaves_exactly_one_record(
    client, fake_zenodo, archive_dir, metadata
):
    fake_zenodo.faults["publish_lost"] = 1  # Zenodo publishes, the answer never arrives (a 504)
    try:
        first = publish_archive(client, archive_dir, metadata, publish=True)
    except ZenodoError:  # allowed to stop; what counts is what the rerun does
        first = None
    second = publish_archive(client, archive_dir, metadata, publish=True)
    third = publish_archive(client, archive_dir, metadata, publish=True)
    assert fake_zenodo.published() == [second.deposition_id]
    assert len(fake_zenodo.depositions) == 1  # no second deposition, not even a draft
    assert fake_zenodo.calls("POST", r"/depositions$") == 1
    assert second.published and second.doi == f"10.5072/zenodo.{second.deposition_id}"
    assert third.doi == second.doi and third.uploaded == []
    if first is not None:
        assert first.doi == second.doi


def test_lost_create_answer_leaves_no_empty_draft(client, fake_zenodo, archive_dir, metadata):
    fake_zenodo.faults["create_lost"] = 1  # Zenodo made the draft; its answer was lost
    result = publish_archive(client, archive_dir, metadata)
    assert list(fake_zenodo.depositions) == [result.deposition_id]  # the lost draft was adopted
    assert fake_zenodo.calls("POST", r"/depositions$") == 1


# -- 2. concept ids and concept DOIs resolve to the latest version ----------------------------


def test_fetch_by_concept_doi_downloads_the_latest_version(
    client, reader, fake_zenodo, archive_dir, metadata, store_path, tmp_path
):
    v1 = publish_archive(client, archive_dir, metadata, publish=True)
    concept = fake_zenodo.depositions[v1.deposition_id]["conceptrecid"]
    v2_dir = tmp_path / "v2"
    build_archive(store_path, v2_dir, features=["audio"], metadata=metadata)
    # --new-version-of takes the concept id too (Zenodo's records/<concept> is 404)
    v2 = publish_archive(
        client, v2_dir, {**metadata, "version": "2.0"}, publish=True, new_version_of=concept
    )
    assert fake_zenodo.published() == [v1.deposition_id, v2.deposition_id]
    for name in (f"10.5072/zenodo.{concept}", str(concept)):
        store = fetch_record(reader, name, tmp_path / f"dl-{name.replace('/', '_')}")
        assert store.features() == ["audio"]  # version 2 has only audio; version 1 had clip too
    fetched = Manifest.read(tmp_path / f"dl-{concept}")
    assert fetched.to_json() == Manifest.read(v2_dir).to_json()


# -- 3. unquoted dates and embargo metadata publish, exactly as written -----------------------

YAML_METADATA = """\
title: Test trailer features
creators:
  - {name: "Doe, Jane", affiliation: Test University, gnd: "118540238"}
contributors:
  - {name: "Roe, Rick", type: DataCurator}
license: cc-by-4.0
publication_date: 2024-05-01
access_right: embargoed
embargo_date: 2031-01-01
subjects:
  - {term: Motion pictures, identifier: "http://id.loc.gov/authorities/subjects/sh85088097",
     scheme: url}
dates:
  - {start: 2020-01-01, end: 2023-12-31, type: Collected}
"""

TOML_METADATA = """\
title = "Test trailer features"
license = "cc-by-4.0"
publication_date = 2024-05-01
access_right = "embargoed"
embargo_date = 2031-01-01
[[creators]]
name = "Doe, Jane"
"""


@pytest.mark.parametrize("suffix,text", [(".yaml", YAML_METADATA), (".toml", TOML_METADATA)])
def test_unquoted_dates_and_embargo_publish(
    client, fake_zenodo, archive_dir, tmp_path, suffix, text
):
    path = tmp_path / f"zenodo{suffix}"
    path.write_text(text)
    result = publish_archive(client, archive_dir, read_metadata_file(path), publish=True)
    sent = fake_zenodo.depositions[result.deposition_id]["metadata"]
    assert result.published
    assert sent["publication_date"] == "2024-05-01" and sent["embargo_date"] == "2031-01-01"
    assert sent["access_right"] == "embargoed"
    if suffix == ".yaml":  # the fields the old client dropped pass through
        assert sent["creators"][0]["gnd"] == "118540238"
        assert sent["contributors"] == [{"name": "Roe, Rick", "type": "DataCurator"}]
        assert sent["subjects"][0]["scheme"] == "url"
        assert sent["dates"] == [{"start": "2020-01-01", "end": "2023-12-31", "type": "Collected"}]


# -- 4. a bad enum fails before any request, naming the field and the allowed values ----------


@pytest.mark.parametrize(
    "change,field",
    [
        ({"access_right": "sometimes"}, "access_right"),
        ({"upload_type": "movie"}, "upload_type"),
        ({"access_right": "embargoed"}, "embargo_date"),  # embargoed without a date
        ({"access_right": "restricted"}, "access_conditions"),
        ({"related_identifiers": [{"identifier": "10.1/x", "relation": "isCitedby"}]}, "relation"),
        ({"language": "english"}, "language"),
    ],
)
def test_bad_enum_fails_before_any_request(
    client, fake_zenodo, archive_dir, metadata, change, field
):
    with pytest.raises(ZenodoMetadataError, match=field):
        publish_archive(client, archive_dir, {**metadata, **change}, publish=True)
    assert fake_zenodo.requests == []


def test_dry_run_shows_the_body_and_sends_nothing(archive_dir, metadata, tmp_path, fake_zenodo):
    path = tmp_path / "zenodo.yaml"
    path.write_text(yaml.safe_dump(metadata) + "publication_date: 2024-05-01\n")
    args = [str(archive_dir), "--metadata", str(path), "--api-url", fake_zenodo.api]
    result = CliRunner().invoke(publish_command, [*args, "--dry-run", "--json"], env={})
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["api"] == fake_zenodo.api and plan["deposition"] == "new deposition"
    assert plan["metadata"]["metadata"]["publication_date"] == "2024-05-01"
    assert {f["name"] for f in plan["files"]} >= {MANIFEST_NAME, "feature-clip.zip"}
    assert fake_zenodo.requests == []  # and no token was needed
    path.write_text(yaml.safe_dump({**metadata, "access_right": "sometimes"}))
    result = CliRunner().invoke(publish_command, [*args, "--dry-run"], env={})
    assert result.exit_code == 1 and "access_right" in result.output and "open" in result.output


# -- 5. a hostile server never receives the token, and cannot fill the disk -------------------


class _Hostile:
    """A second host, named in the record's file links, that keeps sending bytes."""

    def __init__(self) -> None:
        self.authorization: list[str] = []
        self.sent = 0
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                hostile.authorization.append(self.headers.get("Authorization", ""))
                self.send_response(200)
                self.end_headers()  # no Content-Length: the answer ends when the server stops
                try:
                    for _ in range(1024):  # up to 64 MiB, far past any listed size
                        self.wfile.write(b"\0" * 65536)
                        hostile.sent += 65536
                except OSError:  # the client hung up: what we want
                    return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_hostile_host_in_file_links_gets_no_token_and_no_disk(
    client, fake_zenodo, archive_dir, metadata, tmp_path
):
    record = publish_archive(client, archive_dir, metadata, publish=True).deposition_id
    hostile = _Hostile()
    fake_zenodo.file_links_base = hostile.url
    try:
        with pytest.raises(ZenodoError, match="more than the"):
            fetch_record(client, str(record), tmp_path / "dl")  # a client holding a token
    finally:
        hostile.close()
    assert hostile.authorization and set(hostile.authorization) == {""}
    listed = (archive_dir / MANIFEST_NAME).stat().st_size
    on_disk = sum(p.stat().st_size for p in (tmp_path / "dl").iterdir())
    assert on_disk <= listed  # the overflow was stopped at the listed size and deleted


def test_public_fetch_sends_no_token_unless_asked(
    client, fake_zenodo, archive_dir, metadata, token, tmp_path, monkeypatch
):
    record = publish_archive(client, archive_dir, metadata, publish=True).deposition_id
    monkeypatch.setenv("ZENODO_TOKEN", token)
    fake_zenodo.authorization_by_path.clear()
    api = ["--api-url", fake_zenodo.api]
    result = CliRunner().invoke(fetch_command, [str(record), str(tmp_path / "dl"), *api])
    assert result.exit_code == 0, result.output
    assert fake_zenodo.authorization_by_path
    assert {auth for _, auth in fake_zenodo.authorization_by_path} == {""}


def test_restricted_record_needs_auth_and_says_so(
    client, fake_zenodo, archive_dir, metadata, token, tmp_path, monkeypatch
):
    restricted = {**metadata, "access_right": "restricted", "access_conditions": "ask"}
    record = publish_archive(client, archive_dir, restricted, publish=True).deposition_id
    monkeypatch.setenv("ZENODO_TOKEN", token)
    api = ["--api-url", fake_zenodo.api]
    result = CliRunner().invoke(fetch_command, [str(record), str(tmp_path / "a"), *api])
    assert result.exit_code == 1 and "--auth" in result.output and token not in result.output
    result = CliRunner().invoke(fetch_command, [str(record), str(tmp_path / "b"), "--auth", *api])
    assert result.exit_code == 0, result.output
    hosts = {auth for path, auth in fake_zenodo.authorization_by_path if "/records/" in path}
    assert f"Bearer {token}" in hosts


# -- 6. a zip bomb whose manifest was updated to match is refused ------------------------------


def _bomb(archive: Path, name: str, bomb_bytes: int) -> None:
    """Rewrite `name` with its members deflated plus one huge member of zeros, and update the
    manifest exactly as cinefeat's own builder would describe the new file."""
    path = archive / name
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for member, data in members:
            out.writestr(member, data)
        with out.open("clip/c/0/0", "w", force_zip64=True) as chunk:  # a zarr chunk's name
            block = b"\0" * (1 << 20)
            for _ in range(bomb_bytes >> 20):
                chunk.write(block)
    manifest = Manifest.read(archive)
    old = manifest.entry(name)
    manifest.files = [
        entry_for(path, old.kind, old.feature, old.features) if e.name == name else e
        for e in manifest.files
    ]
    manifest.write(archive)


def test_zip_bomb_with_a_matching_manifest_is_refused(
    client, reader, fake_zenodo, archive_dir, metadata, tmp_path
):
    bomb_bytes = 256 << 20
    _bomb(archive_dir, "feature-clip.zip", bomb_bytes)
    assert (archive_dir / "feature-clip.zip").stat().st_size < bomb_bytes // 100  # it is a bomb
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="compressed"):
            open_archive(archive_dir, verify="full")  # the manifest agrees: still refused
        # published as is (Zenodo stores any bytes), then fetched: refused before it is read
        record = publish_archive(client, archive_dir, metadata, publish=True).deposition_id
        with pytest.raises(ArchiveError, match="compressed"):
            fetch_record(reader, str(record), tmp_path / "dl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20  # nothing was inflated
    assert not [p for p in (tmp_path / "dl").rglob("*") if p.is_dir()]  # nothing extracted
