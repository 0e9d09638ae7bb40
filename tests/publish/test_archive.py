"""Building an archive from a real store and reading it back as one store."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from cinefeat.store import FeatureStore
from cinefeat.store.archive import (
    ArchiveError,
    ChecksumMismatch,
    Manifest,
    RecordLimitExceeded,
    RecordLimits,
    build_archive,
    extract_archive,
    open_archive,
    verify_folder,
)
from cinefeat.store.archive.checksums import digest_file


def test_archive_files_and_manifest(built_archive):
    names = sorted(p.name for p in built_archive.iterdir())
    assert names == [
        "CITATION.cff",
        "MANIFEST.json",
        "README.md",
        "feature-audio.zip",
        "feature-clip.zip",
        "metadata.zip",
    ]
    manifest = verify_folder(built_archive)
    for entry in manifest.files:
        digest = digest_file(built_archive / entry.name)
        assert (entry.size, entry.md5, entry.sha256) == (digest.size, digest.md5, digest.sha256)
    assert manifest.provenance["clip"]["model"] == "ViT-B-32"
    assert manifest.counts["trailers"] == 7 and manifest.counts["trailers_failed"] == 1
    assert manifest.counts["features"]["clip"] == {"trailers": 6, "rows": 6}
    assert manifest.cinefeat_version


def test_feature_zips_are_stored_and_not_sharded(built_archive):
    with zipfile.ZipFile(built_archive / "feature-clip.zip") as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
        metadata = [json.loads(archive.read(n)) for n in archive.namelist() if n.endswith(".json")]
    codecs = [c["name"] for m in metadata for c in m.get("codecs", [])]
    assert codecs, "expected zarr array metadata in the zip"
    assert "sharding_indexed" not in codecs
    # one part only: the archive is compacted
    parts = {n.split("/")[1] for n in zipfile.ZipFile(built_archive / "feature-clip.zip").namelist()
             if n.startswith("parts/") and n.count("/") > 1}  # fmt: skip
    assert len(parts) == 1


def test_archive_reads_back_identical(built_archive, store_path):
    original = FeatureStore.open(store_path, read_only=True)
    archived = open_archive(built_archive, verify="full")
    assert archived.ids() == original.ids()
    assert archived.ids(status="ok") == original.ids(status="ok")
    assert archived.features() == ["audio", "clip"]
    for feature in ("clip", "audio"):
        assert archived.provenance(feature) == original.provenance(feature)
        assert archived.lengths(feature) == original.lengths(feature)
        for trailer_id in original.committed(feature):
            a, b = archived.get(trailer_id, feature), original.get(trailer_id, feature)
            np.testing.assert_array_equal(a.values, b.values)
            np.testing.assert_array_equal(a.spans, b.spans)
    names, multi_hot = archived.labels()
    names0, multi_hot0 = original.labels()
    assert names == names0 and multi_hot.keys() == multi_hot0.keys()
    assert archived.splits() == original.splits()
    values, spans, offsets = archived.load_feature("audio")
    assert values.shape == (12, 4) and values.dtype == np.float32 and spans.shape == (12, 2)
    assert offsets["set/003"] == (6, 8)
    assert set(archived["set/002"]) == {"audio", "clip"}


def test_local_paths_are_not_published(built_archive):
    archived = open_archive(built_archive)
    record = archived.record("set/001")
    assert record.source_path == "001.mp4"
    assert record.source_sha256 == f"{1:064x}"
    for path in built_archive.iterdir():
        if path.is_file():
            assert b"/home/alice" not in path.read_bytes()


def test_data_card_and_citation(built_archive):
    readme = (built_archive / "README.md").read_text()
    assert "# Test trailer features" in readme
    assert "| clip | ViT-B-32 | 8 | float16 | 6 | 6 | MIT |" in readme
    assert "| audio | panns-cnn14 | 4 | float32 | 6 | 12 | not recorded |" in readme
    citation = (built_archive / "CITATION.cff").read_text()
    assert 'family-names: "Doe"' in citation and 'given-names: "Jane"' in citation
    assert 'orcid: "https://orcid.org/0000-0002-1825-0097"' in citation
    assert 'license: "cc-by-4.0"' in citation


def test_refuses_plan_over_limits_before_writing(store_path, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RecordLimitExceeded, match="Split the features into"):
        build_archive(store_path, out, limits=RecordLimits(max_files=5))
    assert not out.exists()


def test_refuses_non_empty_output_and_unknown_feature(store_path, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ArchiveError, match="not empty"):
        build_archive(store_path, tmp_path / "full")
    with pytest.raises(ArchiveError, match=r"\['nope'\] are not in"):
        build_archive(store_path, tmp_path / "new", features=["nope"])


def test_single_feature_archive(store_path, tmp_path):
    manifest = build_archive(store_path, tmp_path / "a", features=["audio"])
    assert [e.name for e in manifest.files if e.kind == "feature"] == ["feature-audio.zip"]
    archived = open_archive(tmp_path / "a")
    assert archived.features() == ["audio"]
    with pytest.raises(KeyError, match="the archive has"):
        archived.get("set/000", "clip")


def test_tampered_zip_detected(archive_dir):
    path = archive_dir / "feature-clip.zip"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match=r"feature-clip\.zip"):
        open_archive(archive_dir, verify="full")
    with pytest.raises(ChecksumMismatch):
        extract_archive(archive_dir, archive_dir.parent / "x")


def test_truncated_zip_detected_by_size(archive_dir):
    path = archive_dir / "feature-audio.zip"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ChecksumMismatch, match="incomplete"):
        open_archive(archive_dir)


def test_extracted_archive_opens_the_same(archive_dir, tmp_path):
    target = extract_archive(archive_dir, tmp_path / "extracted")
    assert (target / "feature-clip").is_dir() and not (target / "feature-clip.zip").exists()
    archived = open_archive(target)
    np.testing.assert_array_equal(
        archived.get("set/002", "clip").values,
        open_archive(archive_dir).get("set/002", "clip").values,
    )
    assert Manifest.read(target).names() == Manifest.read(archive_dir).names()


def test_training_dataset_reads_an_archive(built_archive, store_path):
    from cinefeat.store.data import SequenceDataset, collate

    archived = open_archive(built_archive)
    dataset = SequenceDataset(archived, ["clip", "audio"], split="fold0", subset="test")
    assert dataset.ids == ["set/004"]  # set/005 has no labels, so it is left out
    assert dataset.label_names == ["Action", "Drama"]
    train = SequenceDataset(archived, ["clip", "audio"], split="fold0", subset="train")
    same = SequenceDataset(
        FeatureStore.open(store_path, read_only=True), ["clip", "audio"], split="fold0"
    )
    assert train.ids == same.ids and train.max_len == same.max_len
    got, want = collate([train[i] for i in range(len(train))]), collate(list(same))
    for feature in ("clip", "audio"):
        assert got["inputs"][feature].equal(want["inputs"][feature])
        assert got["masks"][feature].equal(want["masks"][feature])
    assert got["labels"].equal(want["labels"]) and got["labels"][:, 1].sum() > 0


def test_failed_build_leaves_no_half_archive(store_path, tmp_path, monkeypatch):
    import cinefeat.store.archive.build as build

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(build, "_copy_metadata", broken)
    with pytest.raises(OSError, match="disk full"):
        build_archive(store_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
