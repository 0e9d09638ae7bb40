"""Fetching a published record: resume, verification, hostile listings, opening as a store."""

from __future__ import annotations

import numpy as np
import pytest

from cinefeat.store import FeatureStore
from cinefeat.store.archive import ChecksumMismatch, ManifestError
from cinefeat.store.fetch import download_file, fetch_record, record_files, resolve_record_id
from cinefeat.store.zenodo.client import ZenodoClient
from cinefeat.store.zenodo.errors import ZenodoError
from cinefeat.store.zenodo.publish import publish_archive


@pytest.fixture
def record_id(client, archive_dir, metadata) -> int:
    return publish_archive(client, archive_dir, metadata, publish=True).deposition_id


@pytest.fixture
def reader(fake_zenodo, sleeps) -> ZenodoClient:
    """No token: published records are public."""
    return ZenodoClient(None, fake_zenodo.api, backoff_s=0.001, sleep=sleeps.append)


@pytest.mark.parametrize(
    "text",
    [
        "1234",
        "10.5281/zenodo.1234",
        "https://doi.org/10.5281/zenodo.1234",
        "https://zenodo.org/records/1234",
        "https://sandbox.zenodo.org/record/1234/",
    ],
)
def test_resolve_record_id(text):
    assert resolve_record_id(text) == "1234"


def test_resolve_rejects_other_dois():
    with pytest.raises(ZenodoError, match="not a Zenodo record id or DOI"):
        resolve_record_id("10.1109/ACCESS.2024.1")


def test_fetch_opens_the_same_store(reader, record_id, store_path, tmp_path):
    store = fetch_record(reader, f"10.5072/zenodo.{record_id}", tmp_path / "dl")
    original = FeatureStore.open(store_path, read_only=True)
    assert store.ids() == original.ids() and store.features() == ["audio", "clip"]
    np.testing.assert_array_equal(
        store.get("set/004", "clip").values, original.get("set/004", "clip").values
    )
    assert not list((tmp_path / "dl").glob("*.partial"))


def test_second_fetch_downloads_nothing(reader, record_id, tmp_path, fake_zenodo):
    fetch_record(reader, str(record_id), tmp_path / "dl")
    before = fake_zenodo.calls("GET", "/content$")
    fetch_record(reader, str(record_id), tmp_path / "dl")
    assert fake_zenodo.calls("GET", "/content$") == before


def test_dropped_download_resumes_with_range(reader, record_id, tmp_path, fake_zenodo, sleeps):
    fake_zenodo.faults["download_drop"] = 2
    store = fetch_record(reader, str(record_id), tmp_path / "dl")
    assert fake_zenodo.faults["download_drop"] == 0
    assert len(store.ids()) == 7
    assert len(sleeps) == 2  # one backoff per dropped connection
    assert len(fake_zenodo.range_starts) == 2 and min(fake_zenodo.range_starts) > 0


def test_resume_from_partial_file(reader, record_id, tmp_path, fake_zenodo, archive_dir):
    dest = tmp_path / "dl"
    dest.mkdir()
    data = (archive_dir / "feature-clip.zip").read_bytes()
    (dest / "feature-clip.zip.partial").write_bytes(data[:1000])
    fetch_record(reader, str(record_id), dest)
    assert (dest / "feature-clip.zip").read_bytes() == data
    assert fake_zenodo.range_starts == [1000]


def test_only_some_features(reader, record_id, tmp_path):
    store = fetch_record(reader, str(record_id), tmp_path / "dl", only=["audio"])
    assert store.features() == ["audio"]
    assert not (tmp_path / "dl" / "feature-clip.zip").exists()


def test_server_corruption_detected(reader, record_id, tmp_path, fake_zenodo):
    entry = fake_zenodo.depositions[record_id]["files"]["metadata.zip"]
    entry["data"] = entry["data"][:-1] + b"!"  # same size, md5 listing unchanged
    with pytest.raises(ChecksumMismatch, match=r"metadata\.zip: md5 differs"):
        fetch_record(reader, str(record_id), tmp_path / "dl")
    assert not (tmp_path / "dl" / "metadata.zip").exists()
    assert not (tmp_path / "dl" / "metadata.zip.partial").exists()


def test_manifest_catches_a_file_swapped_consistently(reader, record_id, tmp_path, fake_zenodo):
    """A file replaced on the server with matching md5 listing still fails the sha256 manifest."""
    import hashlib

    entry = fake_zenodo.depositions[record_id]["files"]["README.md"]
    entry["data"] = b"# something else\n"
    entry["md5"] = hashlib.md5(entry["data"]).hexdigest()
    with pytest.raises(ChecksumMismatch, match="README"):
        fetch_record(reader, str(record_id), tmp_path / "dl")


@pytest.mark.parametrize("name", ["../escape.zip", "sub/x.zip", "/etc/cron.d/x"])
def test_hostile_listing_refused(name):
    record = {"files": [{"key": name, "size": 1, "checksum": "md5:0", "links": {"self": "x"}}]}
    with pytest.raises(ManifestError, match="refusing file name"):
        record_files(record)


def test_incomplete_download_reports_resume(reader, tmp_path, fake_zenodo, record_id, monkeypatch):
    import cinefeat.store.fetch as fetch

    monkeypatch.setattr(fetch, "DOWNLOAD_ATTEMPTS", 2)
    fake_zenodo.faults["download_drop"] = 10
    name, size, md5, url = next(
        f for f in record_files(reader.record(record_id)) if f[0] == "feature-clip.zip"
    )
    with pytest.raises(ZenodoError, match="run `cinefeat fetch` again to resume"):
        download_file(reader, url, tmp_path / name, size, md5)
    assert (tmp_path / f"{name}.partial").stat().st_size > 0  # kept for the next run
