"""Record limits, file-name checks and digests: known answers."""

from __future__ import annotations

import pytest

from cinefeat.store.archive import RecordLimitExceeded, RecordLimits, check_record_limits
from cinefeat.store.archive.checksums import digest_file
from cinefeat.store.archive.limits import suggest_split
from cinefeat.store.archive.manifest import ManifestError, check_file_name

FIXED = {"metadata.zip": 10, "README.md": 1, "CITATION.cff": 1, "MANIFEST.json": 1}


def test_digest_known_answers(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    digest = digest_file(path, chunk_bytes=2)  # chunking must not change the answer
    assert digest.size == 3
    assert digest.md5 == "900150983cd24fb0d6963f7d28e17f72"
    assert digest.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_within_limits_passes():
    check_record_limits({f"feature-{i}.zip": 10**9 for i in range(40)}, FIXED)


def test_too_many_files_refused_with_a_split():
    features = {f"feature-f{i:03d}.zip": 1000 for i in range(150)}
    with pytest.raises(RecordLimitExceeded, match=r"154 files .* 2 records.*nothing was uploaded"):
        check_record_limits(features, FIXED)


def test_too_many_bytes_refused_with_a_split_that_fits():
    features = {"feature-a.zip": 30 * 10**9, "feature-b.zip": 25 * 10**9, "feature-c.zip": 10**9}
    with pytest.raises(RecordLimitExceeded, match=r"record 1: feature-a\.zip, feature-c\.zip"):
        check_record_limits(features, FIXED)
    groups = suggest_split(features, FIXED, RecordLimits())
    assert groups == [["feature-a.zip", "feature-c.zip"], ["feature-b.zip"]]


def test_single_file_larger_than_a_record_is_named():
    with pytest.raises(RecordLimitExceeded, match=r"feature-huge.zip alone .*float16"):
        check_record_limits({"feature-huge.zip": 60 * 10**9}, FIXED)


def test_split_respects_file_count():
    limits = RecordLimits(max_files=6, max_bytes=10**12)
    groups = suggest_split({f"f{i}": 1 for i in range(5)}, FIXED, limits)
    assert [len(g) for g in groups] == [2, 2, 1]


@pytest.mark.parametrize(
    "name",
    ["../evil.zip", "/etc/passwd", "a/b.zip", "a\\b.zip", "C:evil", ".hidden", "", "..", "x\x00"],
)
def test_hostile_file_names_refused(name):
    with pytest.raises(ManifestError, match="refusing file name"):
        check_file_name(name)


def test_plain_file_name_accepted():
    assert check_file_name("feature-clip.zip") == "feature-clip.zip"
