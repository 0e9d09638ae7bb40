"""The publish flow against the fake Zenodo: drafts, publishing, faults, resume, new versions."""

from __future__ import annotations

import json

import pytest

from cinefeat.store.archive import (
    ChecksumMismatch,
    ManifestError,
    RecordLimitExceeded,
    RecordLimits,
)
from cinefeat.store.zenodo.client import ZenodoClient
from cinefeat.store.zenodo.errors import ZenodoChecksumError, ZenodoError, ZenodoMetadataError
from cinefeat.store.zenodo.metadata import markdown_to_html, read_metadata_file, zenodo_metadata
from cinefeat.store.zenodo.publish import DRAFT_STATE, publish_archive

ARCHIVE_FILES = {
    "CITATION.cff",
    "MANIFEST.json",
    "README.md",
    "feature-audio.zip",
    "feature-clip.zip",
    "metadata.zip",
}


def _stored(fake, deposition_id):
    return set(fake.depositions[deposition_id]["files"])


def test_default_leaves_a_draft(client, fake_zenodo, archive_dir, metadata):
    result = publish_archive(client, archive_dir, metadata)
    assert not result.published and fake_zenodo.published() == []
    assert result.url == f"{fake_zenodo.url}/deposit/{result.deposition_id}"
    assert _stored(fake_zenodo, result.deposition_id) == ARCHIVE_FILES
    sent = fake_zenodo.depositions[result.deposition_id]["metadata"]
    assert sent["upload_type"] == "dataset"
    assert sent["creators"][0] == {
        "name": "Doe, Jane",
        "affiliation": "Test University",
        "orcid": "0000-0002-1825-0097",
    }
    assert "<h2>Test trailer features</h2>" in sent["description"]
    assert sent["related_identifiers"][0]["relation"] == "isSupplementTo"
    assert (archive_dir / DRAFT_STATE).is_file()


def test_publish_mints_doi_and_stored_bytes_match(client, fake_zenodo, archive_dir, metadata):
    result = publish_archive(client, archive_dir, metadata, publish=True)
    assert result.published and result.doi == f"10.5072/zenodo.{result.deposition_id}"
    assert fake_zenodo.published() == [result.deposition_id]
    for name, entry in fake_zenodo.depositions[result.deposition_id]["files"].items():
        assert entry["data"] == (archive_dir / name).read_bytes()
    state = json.loads((archive_dir / DRAFT_STATE).read_text())  # kept: a rerun does nothing
    assert state["published"] and state["doi"] == result.doi


@pytest.mark.parametrize("fault", ["upload_500", "upload_429", "upload_drop", "upload_bad_md5"])
def test_each_fault_once_ends_in_success(client, fake_zenodo, archive_dir, metadata, fault):
    fake_zenodo.faults[fault] = 1
    fake_zenodo.retry_after = "1"
    result = publish_archive(client, archive_dir, metadata, publish=True)
    assert result.published and fake_zenodo.faults[fault] == 0
    assert fake_zenodo.calls("PUT", "/api/files/") == len(ARCHIVE_FILES) + 1
    files = fake_zenodo.depositions[result.deposition_id]["files"]
    assert {n: e["data"] for n, e in files.items()} == {
        n: (archive_dir / n).read_bytes() for n in ARCHIVE_FILES
    }


def test_persistent_wrong_checksum_stops_with_nothing_published(
    client, fake_zenodo, archive_dir, metadata
):
    fake_zenodo.faults["upload_bad_md5"] = 100
    with pytest.raises(ZenodoChecksumError, match="nothing was published"):
        publish_archive(client, archive_dir, metadata, publish=True)
    assert fake_zenodo.published() == []
    assert fake_zenodo.calls("POST", "actions/publish") == 0


def test_persistent_server_errors_stop_with_nothing_published(
    fake_zenodo, token, archive_dir, metadata
):
    client = ZenodoClient(token, fake_zenodo.api, max_retries=1, sleep=lambda s: None)
    fake_zenodo.faults["upload_500"] = 100
    with pytest.raises(ZenodoError, match="failed after 2 attempts"):
        publish_archive(client, archive_dir, metadata, publish=True)
    assert fake_zenodo.published() == []


def test_interrupted_upload_resumes_skipping_uploaded_files(
    fake_zenodo, token, archive_dir, metadata
):
    flaky = ZenodoClient(token, fake_zenodo.api, max_retries=0, sleep=lambda s: None)
    original_upload = flaky.upload
    calls = []

    def upload_two_then_fail(bucket, name, path):
        calls.append(name)
        if len(calls) > 2:
            raise ZenodoError("network went away")
        return original_upload(bucket, name, path)

    flaky.upload = upload_two_then_fail
    with pytest.raises(ZenodoError, match="network went away"):
        publish_archive(flaky, archive_dir, metadata)
    first = json.loads((archive_dir / DRAFT_STATE).read_text())["deposition_id"]
    assert len(_stored(fake_zenodo, first)) == 2

    client = ZenodoClient(token, fake_zenodo.api, sleep=lambda s: None)
    result = publish_archive(client, archive_dir, metadata, publish=True)
    assert result.deposition_id == first  # same draft, not a new one
    assert sorted(result.skipped) == sorted(calls[:2])
    assert len(result.uploaded) == len(ARCHIVE_FILES) - 2
    assert len(fake_zenodo.depositions) == 1 and result.published


def test_resume_replaces_a_corrupt_file_in_the_draft(client, fake_zenodo, archive_dir, metadata):
    first = publish_archive(client, archive_dir, metadata)
    stored = fake_zenodo.depositions[first.deposition_id]["files"]["README.md"]
    stored["md5"] = "f" * 32  # the server holds a different README
    second = publish_archive(client, archive_dir, metadata)
    assert second.uploaded == ["README.md"]
    assert len(second.skipped) == len(ARCHIVE_FILES) - 1


def test_new_version_replaces_changed_files(
    client, fake_zenodo, archive_dir, metadata, store_path, tmp_path
):
    from cinefeat.store.archive import build_archive

    v1 = publish_archive(client, archive_dir, metadata, publish=True)
    v2_dir = tmp_path / "v2"
    build_archive(store_path, v2_dir, features=["audio"], metadata=metadata)
    with pytest.raises(ZenodoError, match="--new-version-of"):
        publish_archive(client, v2_dir, metadata, deposition_id=v1.deposition_id)
    v2 = publish_archive(
        client,
        v2_dir,
        {**metadata, "version": "2.0"},
        publish=True,
        new_version_of=v1.deposition_id,
    )
    assert v2.deposition_id != v1.deposition_id and v2.published
    assert "CITATION.cff" in v2.skipped  # identical file carried over, not re-uploaded
    assert "feature-clip.zip" not in _stored(fake_zenodo, v2.deposition_id)
    assert _stored(fake_zenodo, v1.deposition_id) == ARCHIVE_FILES  # v1 untouched
    stored = fake_zenodo.depositions[v2.deposition_id]
    assert stored["metadata"]["version"] == "2.0"
    assert stored["conceptrecid"] == fake_zenodo.depositions[v1.deposition_id]["conceptrecid"]
    for name, entry in stored["files"].items():
        assert entry["data"] == (v2_dir / name).read_bytes()


def test_missing_metadata_fails_before_any_request(client, fake_zenodo, archive_dir, metadata):
    del metadata["license"]
    with pytest.raises(ZenodoMetadataError, match="missing license"):
        publish_archive(client, archive_dir, metadata, publish=True)
    assert fake_zenodo.requests == []


def test_tampered_archive_fails_before_any_request(client, fake_zenodo, archive_dir, metadata):
    (archive_dir / "README.md").write_text("changed")
    with pytest.raises(ChecksumMismatch, match=r"README\.md"):
        publish_archive(client, archive_dir, metadata)
    assert fake_zenodo.requests == []


def test_record_limits_checked_before_any_request(client, fake_zenodo, archive_dir, metadata):
    with pytest.raises(RecordLimitExceeded, match="nothing was uploaded"):
        publish_archive(client, archive_dir, metadata, limits=RecordLimits(max_files=4))
    assert fake_zenodo.requests == []


def test_fake_server_enforces_the_100_file_limit(client, fake_zenodo, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"1")
    bucket = client.create_deposition()["links"]["bucket"]
    for i in range(100):
        client.upload(bucket, f"f{i}", path)
    with pytest.raises(ZenodoError, match="too many files"):
        client.upload(bucket, "f100", path)


def test_server_refuses_publishing_without_metadata(client):
    draft = client.create_deposition()
    with pytest.raises(ZenodoError, match=r"HTTP 400.*Validation error"):
        client.publish(draft["id"])


def test_no_manifest_is_a_clear_error(client, tmp_path, metadata):
    with pytest.raises(ManifestError, match="cinefeat archive STORE OUT_DIR"):
        publish_archive(client, tmp_path, metadata)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"creators": [{"affiliation": "X"}]}, r"creators\[0\] needs a name"),
        ({"creators": [{"name": "Doe, J", "orcid": "1234"}]}, "ORCID"),
        ({"related_identifiers": [{"identifier": "x"}]}, "needs identifier and relation"),
        ({"title": ""}, "missing title"),
    ],
)
def test_metadata_validation(metadata, change, message):
    with pytest.raises(ZenodoMetadataError, match=message):
        zenodo_metadata({**metadata, **change})


def test_metadata_files_yaml_and_toml(tmp_path, metadata):
    (tmp_path / "m.yaml").write_text(
        "title: T\ncreators:\n  - {name: 'Doe, Jane', orcid: 'https://orcid.org/0000-0002-1825-0097'}"
        "\nlicense: cc-by-4.0\nversion: 1.0\n"
    )
    (tmp_path / "m.toml").write_text(
        'title = "T"\nlicense = "cc-by-4.0"\nversion = "1.0"\n'
        '[[creators]]\nname = "Doe, Jane"\norcid = "0000-0002-1825-0097"\n'
    )
    from_yaml = zenodo_metadata(read_metadata_file(tmp_path / "m.yaml"), "<p>card</p>")
    from_toml = zenodo_metadata(read_metadata_file(tmp_path / "m.toml"), "<p>card</p>")
    assert from_yaml == from_toml
    assert from_yaml["creators"] == [{"name": "Doe, Jane", "orcid": "0000-0002-1825-0097"}]
    assert from_yaml["version"] == "1.0" and from_yaml["description"] == "<p>card</p>"
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(ZenodoMetadataError, match=r"\.yaml, \.yml or \.toml"):
        read_metadata_file(tmp_path / "m.json")


def test_markdown_to_html_escapes():
    html = markdown_to_html("# T <x>\n\npara & more\n\n| a | b |\n|---|---|")
    assert html == "<h2>T &lt;x&gt;</h2>\n<p>para &amp; more</p>\n<pre>| a | b |\n|---|---|</pre>"


def test_vanished_saved_draft_starts_a_new_one(client, fake_zenodo, archive_dir, metadata):
    first = publish_archive(client, archive_dir, metadata)
    del fake_zenodo.depositions[first.deposition_id]
    second = publish_archive(client, archive_dir, metadata)
    assert second.deposition_id != first.deposition_id
    assert len(second.uploaded) == len(ARCHIVE_FILES)
