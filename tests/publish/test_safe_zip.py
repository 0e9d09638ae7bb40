"""Safe extraction refuses zip-slip, links and checksum mismatches; stored zips are stable."""

from __future__ import annotations

import stat
import zipfile

import pytest

from cinefeat.store.archive import ChecksumMismatch, UnsafeArchive, safe_extract, write_stored_zip
from cinefeat.store.archive.manifest import entry_for


def _zip_with(path, name, data=b"x", mode=stat.S_IFREG | 0o644):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.txt", b"fine")
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        archive.writestr(info, data)
    return path


@pytest.mark.parametrize(
    "member", ["../escape.txt", "a/../../escape.txt", "/abs.txt", "C:/win.txt", "a\\..\\b.txt"]
)
def test_zip_slip_refused_and_nothing_written(tmp_path, member):
    bad = _zip_with(tmp_path / "bad.zip", member)
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "target"
    with pytest.raises(UnsafeArchive):
        safe_extract(bad, target)
    assert not target.exists()
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out" / "escape.txt").exists()
    assert list((tmp_path / "out").iterdir()) == []  # staging folder cleaned up


def test_symlink_member_refused(tmp_path):
    bad = _zip_with(tmp_path / "link.zip", "link", b"/etc/passwd", stat.S_IFLNK | 0o777)
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        safe_extract(bad, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_checksum_mismatch_against_manifest_refused(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.bin").write_bytes(b"a" * 100)
    good = write_stored_zip(source, tmp_path / "good.zip")
    entry = entry_for(good, "feature", "a")
    data = bytearray(good.read_bytes())
    data[data.index(b"a" * 100)] = ord("b")  # same size, one byte flipped
    good.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match="sha256"):
        safe_extract(good, tmp_path / "target", entry)
    assert not (tmp_path / "target").exists()


def test_member_count_must_match_manifest(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.bin").write_bytes(b"a")
    path = write_stored_zip(source, tmp_path / "a.zip")
    entry = entry_for(path, "feature", "a")
    entry.members = 5
    with pytest.raises(UnsafeArchive, match="members"):
        safe_extract(path, tmp_path / "target", entry)


def test_stored_zip_roundtrip_is_uncompressed_and_deterministic(tmp_path):
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "chunk").write_bytes(bytes(range(256)) * 4)
    (source / "zarr.json").write_text("{}")
    first = write_stored_zip(source, tmp_path / "one.zip")
    second = write_stored_zip(source, tmp_path / "two.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
        assert archive.namelist() == ["sub/chunk", "zarr.json"]
    out = safe_extract(first, tmp_path / "out", entry_for(first, "feature", "x"))
    assert (out / "sub" / "chunk").read_bytes() == bytes(range(256)) * 4


def test_symlink_in_source_store_refused(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "link").symlink_to("/etc/hostname")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        write_stored_zip(source, tmp_path / "x.zip")


def test_stored_member_ranges_point_at_the_member_bytes(tmp_path):
    import os

    from cinefeat.store.archive.zip_index import stored_member_ranges

    source = tmp_path / "src"
    (source / "c" / "0").mkdir(parents=True)
    payloads = {"c/0/0": os.urandom(5000), "c/0/1": b"", "zarr.json": b"{}"}
    for name, data in payloads.items():
        (source / name).write_bytes(data)
    path = write_stored_zip(source, tmp_path / "s.zip")
    ranges = stored_member_ranges(path)
    assert set(ranges) == set(payloads)
    fd = os.open(path, os.O_RDONLY)
    try:
        for name, (offset, size) in ranges.items():
            assert os.pread(fd, size, offset) == payloads[name]
    finally:
        os.close(fd)


def test_check_member_refuses_dotdot_by_itself():
    from cinefeat.store.archive.safe_zip import check_member

    with pytest.raises(UnsafeArchive, match="zip-slip"):
        check_member(zipfile.ZipInfo("a/../../b"))
    fifo = zipfile.ZipInfo("pipe")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    with pytest.raises(UnsafeArchive, match="not a regular file"):
        check_member(fifo)
