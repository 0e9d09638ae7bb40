"""An archive folder opens like a store (`FeatureStore.open`, `cinefeat store`); grouped zips."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.store import FeatureStore, ReadOnlyStoreError
from cinefeat.store.archive import (
    ArchiveError,
    ArchiveStore,
    Manifest,
    build_archive,
    extract_archive,
    open_archive,
)
from cinefeat.store.fetch import fetch_record
from cinefeat.store.hdf5 import export_hdf5, import_hdf5
from cinefeat.store.publish_cli import archive_command
from cinefeat.store.validate import validate
from cinefeat.store.zenodo.client import ZenodoClient
from cinefeat.store.zenodo.errors import ZenodoError
from cinefeat.store.zenodo.publish import publish_archive


def _same_rows(a, b) -> None:
    assert a.ids() == b.ids() and a.features() == b.features()
    for feature in b.features():
        assert a.provenance(feature) == b.provenance(feature)
        for trailer_id in b.committed(feature):
            x, y = a.get(trailer_id, feature), b.get(trailer_id, feature)
            np.testing.assert_array_equal(x.values, y.values)
            np.testing.assert_array_equal(x.spans, y.spans)


def test_feature_store_open_reads_an_archive_folder(built_archive, store_path, tmp_path):
    original = FeatureStore.open(store_path, read_only=True)
    archived = FeatureStore.open(built_archive)
    assert isinstance(archived, ArchiveStore) and isinstance(archived, FeatureStore)
    assert archived.read_only
    _same_rows(archived, original)
    assert archived.labels()[0] == original.labels()[0] and archived.splits() == original.splits()
    with pytest.raises(ReadOnlyStoreError):
        archived.writer(run="x")
    with pytest.raises(ReadOnlyStoreError):
        archived.set_split("other", {"train": []})
    extracted = extract_archive(built_archive, tmp_path / "x")
    _same_rows(FeatureStore.open(extracted), original)
    assert FeatureStore.open_or_create(built_archive).features() == original.features()


def test_store_commands_take_an_archive_folder(built_archive, store_path, tmp_path):
    runner = CliRunner()
    opened = runner.invoke(main, ["store", "open", "--json", str(built_archive)])
    assert opened.exit_code == 0, opened.output
    summary = json.loads(opened.stdout)
    assert summary["kind"] == "archive" and summary["trailers"] == 7
    assert summary["features"]["clip"] == {
        **summary["features"]["clip"],
        "trailers": 6,
        "rows": 6,
        "dim": 8,
    }
    info = runner.invoke(main, ["store", "info", str(built_archive)])
    assert info.exit_code == 0, info.output
    assert "(archive, format v1, read-only)" in info.stdout
    assert "feature   audio: 6 trailers, 12 rows x 4 float32" in info.stdout
    checked = runner.invoke(main, ["store", "validate", str(built_archive)])
    assert checked.exit_code == 0, checked.output
    h5 = tmp_path / "a.h5"
    assert runner.invoke(main, ["store", "export-hdf5", str(built_archive), str(h5)]).exit_code == 0
    _same_rows(import_hdf5(h5, tmp_path / "back"), FeatureStore.open(store_path))
    assert export_hdf5(FeatureStore.open(built_archive), tmp_path / "b.h5").is_file()


def _flip_first_value_byte(zip_path: Path) -> None:
    """Corrupt one byte of the first values chunk in place (same size: only CRC/sha256 differ)."""
    from cinefeat.store.archive.zip_index import stored_member_ranges

    ranges = stored_member_ranges(zip_path)
    offset, _ = next(r for name, r in ranges.items() if name.endswith("/values/c/0/0"))
    data = bytearray(zip_path.read_bytes())
    data[offset + 5] ^= 0xFF
    zip_path.write_bytes(bytes(data))


def test_store_open_verifies_and_validate_names_the_damaged_trailer(archive_dir):
    _flip_first_value_byte(archive_dir / "feature-clip.zip")
    runner = CliRunner()
    opened = runner.invoke(main, ["store", "open", str(archive_dir)])  # --verify full by default
    assert opened.exit_code == 1 and "feature-clip.zip" in opened.output
    assert "sha256" in opened.output
    report = validate(FeatureStore.open(archive_dir))  # sizes agree: opens, then validate reads
    assert not report.ok
    bad = {(p.kind, p.trailer) for p in report.problems}
    assert ("unreadable-chunk", "set/001") in bad
    assert all(p.part.startswith("feature-clip.zip:") for p in report.problems)
    checked = runner.invoke(main, ["store", "validate", str(archive_dir)])
    assert checked.exit_code == 1 and "trailer 'set/001'" in checked.output


def test_grouped_archive_holds_several_features_in_one_zip(store_path, tmp_path):
    manifest = build_archive(store_path, tmp_path / "g", groups={"av": ["clip", "audio"]})
    names = sorted(p.name for p in (tmp_path / "g").iterdir())
    assert names == ["CITATION.cff", "MANIFEST.json", "README.md", "feature-av.zip", "metadata.zip"]
    entry = Manifest.read(tmp_path / "g").entry("feature-av.zip")
    assert entry == manifest.entry("feature-av.zip")
    assert entry.kind == "feature" and entry.feature == "av" and entry.features == ["audio", "clip"]
    with zipfile.ZipFile(tmp_path / "g" / "feature-av.zip") as archive:
        parts = {n.split("/")[1] for n in archive.namelist() if n.count("/") > 1}
    assert parts == {"archive-av"}
    original = FeatureStore.open(store_path, read_only=True)
    grouped = open_archive(tmp_path / "g", verify="full")
    _same_rows(grouped, original)
    assert len(grouped.stores()) == 1
    assert "| feature-av.zip |" in (tmp_path / "g" / "README.md").read_text()
    assert "audio, clip |" in (tmp_path / "g" / "README.md").read_text()


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"a": ["clip"], "b": ["clip"]}, "is in groups 'a' and 'b'"),
        ({"v": ["nope"]}, "names feature 'nope'"),
        ({"audio": ["clip"]}, "has the name of an archived feature"),
        ({"bad/name": ["clip"]}, "not allowed"),
        ({"empty": []}, "has no features"),
    ],
)
def test_bad_groups_refused_before_writing(store_path, tmp_path, groups, message):
    with pytest.raises(ArchiveError, match=message):
        build_archive(store_path, tmp_path / "g", groups=groups)
    assert not (tmp_path / "g").exists()


def test_archive_cli_group_option(store_path, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        archive_command, [str(store_path), str(tmp_path / "g"), "--group", "av=clip, audio"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g" / "feature-av.zip").is_file()
    bad = runner.invoke(archive_command, [str(store_path), str(tmp_path / "h"), "--group", "av"])
    assert bad.exit_code == 2 and "NAME=feature1,feature2" in bad.output


def test_fetch_some_features_of_a_grouped_record(
    client, fake_zenodo, store_path, tmp_path, metadata
):
    folder = tmp_path / "g"
    build_archive(store_path, folder, groups={"visual": ["clip"]}, features=["clip", "audio"])
    record = publish_archive(client, folder, metadata, publish=True).deposition_id
    reader = ZenodoClient(None, fake_zenodo.api, sleep=lambda s: None)
    store = fetch_record(reader, str(record), tmp_path / "dl", only=["clip"])
    assert store.features() == ["clip"]
    assert (tmp_path / "dl" / "feature-visual.zip").is_file()
    assert not (tmp_path / "dl" / "feature-audio.zip").exists()
    before = fake_zenodo.calls("GET", "/content$")
    with pytest.raises(ZenodoError, match=r"\['ocr'\] are not in this record"):
        fetch_record(reader, str(record), tmp_path / "dl2", only=["ocr"])
    assert fake_zenodo.calls("GET", "/content$") == before + 1  # only the manifest


def test_fetch_refuses_a_record_that_is_not_an_archive(client, fake_zenodo, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"123")
    draft = client.create_deposition()
    client.upload(draft["links"]["bucket"], "data.bin", path)
    fake_zenodo.depositions[draft["id"]]["submitted"] = True
    reader = ZenodoClient(None, fake_zenodo.api, sleep=lambda s: None)
    with pytest.raises(ZenodoError, match="not a cinefeat feature archive"):
        fetch_record(reader, str(draft["id"]), tmp_path / "dl")
    assert not (tmp_path / "dl" / "data.bin").exists()
