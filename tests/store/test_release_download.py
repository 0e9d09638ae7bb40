"""Downloading a release by name against a loopback server, then importing it (issue 18).

The server (tests/extract/weights_server.py) answers Range requests as RFC 9110 says and can drop
a connection mid-body; the files it serves are built the way the publishers build them
(release_fixtures.py; Trailers12k's archives as `tar czf` of each zarr v2 group, as DIViTA's
download.py unpacks them with `tarfile.open(path, 'r:gz').extractall`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from release_fixtures import write_sulun_release, write_trailers12k_release

from cinefeat.cli.main import main
from cinefeat.store import FeatureStore, http_download
from cinefeat.store.archive.errors import ChecksumMismatch, UnsafeArchive
from cinefeat.store.importers import import_release
from cinefeat.store.importers import releases as R


def _load_server_module():
    """weights_server.py in tests/extract (tests/ is not a package: importlib mode)."""
    name = "cinefeat_tests_weights_server"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "extract" / "weights_server.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


server_module = _load_server_module()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(http_download, "BACKOFF_S", 0.0)
    monkeypatch.setattr(http_download, "CHUNK", 16 * 1024)
    with server_module.WeightsServer() as running:
        yield running


def _entry(server, name: str, body: bytes, listed: bool = True, **extra) -> dict:
    """A releases.json file entry for `body` served at /files/<name>."""
    server.routes[f"/files/{name}"] = server_module.Route(body)
    entry = {"name": name, "url": server.url(f"/files/{name}"), **extra}
    if listed:
        entry.update(size=len(body), md5=hashlib.md5(body).hexdigest())
    return entry


def _table(tmp_path, monkeypatch, name: str, files: list[dict]) -> None:
    """Point the release table at a test one (same schema as store/importers/releases.json)."""
    path = tmp_path / "releases.json"
    path.write_text(json.dumps({name: {"title": name, "record": "zenodo:1", "files": files}}))
    monkeypatch.setattr(R, "TABLE", path)


def _sulun_files(tmp_path, server) -> tuple[list[dict], dict]:
    release = write_sulun_release(tmp_path / "publisher")
    pkl = (tmp_path / "publisher" / "features.pkl").read_bytes()
    files = [
        _entry(server, "features.pkl", pkl, listed=False),  # Zenodo's md5 not known offline
        _entry(server, "splits.json", (tmp_path / "publisher" / "splits.json").read_bytes()),
        _entry(
            server,
            "trailers_genres_clean.csv",
            (tmp_path / "publisher" / "trailers_genres_clean.csv").read_bytes(),
        ),
        _entry(server, "mlp.pt", b"not fetched by default", default=False),
    ]
    return files, release


def test_sulun_download_resumes_records_sha256_and_imports_in_one_command(
    tmp_path, server, monkeypatch
):
    files, release = _sulun_files(tmp_path, server)
    pkl = (tmp_path / "publisher" / "features.pkl").read_bytes()
    server.routes["/files/features.pkl"].drop_after = [len(pkl) // 3]  # connection drops
    _table(tmp_path, monkeypatch, "movienet-sulun2024", files)
    data, out = tmp_path / "data", tmp_path / "mn.zarr"
    result = CliRunner().invoke(
        main, ["import", "movienet-sulun2024", "--download", str(data), "--store", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "recorded sha256 of features.pkl (trust on first use)" in result.output
    pkl_requests = [r for r in server.requests if r[0] == "/files/features.pkl"]
    assert pkl_requests[0][1] is None
    assert re.fullmatch(r"bytes=\d+-", pkl_requests[1][1])  # resumed, not restarted
    assert int(pkl_requests[1][1][6:-1]) > 0
    assert (data / "features.pkl").read_bytes() == pkl
    assert not list(data.glob("*.partial")) and not (data / "mlp.pt").exists()
    ledger = json.loads((data / R.LEDGER).read_text())
    assert ledger["files"]["features.pkl"]["sha256"] == hashlib.sha256(pkl).hexdigest()
    store = FeatureStore.open(out)
    assert sorted(store.ids()) == sorted(release["ids"])
    np.testing.assert_array_equal(
        store.get("--85qsvHPaI", "sulun2024_clip").values,
        release["features"]["--85qsvHPaI"]["clip"],
    )
    # a rerun downloads nothing and imports nothing new
    before = len(server.requests)
    again = CliRunner().invoke(
        main, ["import", "movienet-sulun2024", "--download", str(data), "--store", str(out)]
    )
    assert again.exit_code == 0, again.output
    assert len(server.requests) == before
    assert "0 downloaded, 3 already there" in again.output
    # --download without --store: the download is the result, and --json prints it as JSON
    only = CliRunner().invoke(main, ["import", "movienet-sulun2024", "--download", str(data),
                                     "--json"])  # fmt: skip
    report = json.loads(only.stdout)
    assert only.exit_code == 0 and report["downloaded"] == [] and len(report["present"]) == 3


def test_a_wrong_checksum_is_refused_and_nothing_is_left_or_imported(tmp_path, server, monkeypatch):
    files, _ = _sulun_files(tmp_path, server)
    files[1]["md5"] = "0" * 32  # splits.json is not what the table says
    _table(tmp_path, monkeypatch, "movienet-sulun2024", files)
    data, out = tmp_path / "data", tmp_path / "mn.zarr"
    result = CliRunner().invoke(
        main, ["import", "movienet-sulun2024", "--download", str(data), "--store", str(out)]
    )
    assert result.exit_code != 0
    assert "splits.json" in result.output and "md5" in result.output
    assert "nothing was unpacked or imported" in result.output
    assert not (data / "splits.json").exists() and not list(data.glob("*.partial"))
    assert not out.exists()


def test_bytes_that_change_after_first_use_are_refused(tmp_path, server, monkeypatch):
    files, _ = _sulun_files(tmp_path, server)
    _table(tmp_path, monkeypatch, "movienet-sulun2024", files)
    R.download_release("movienet-sulun2024", tmp_path / "data", progress=False)
    recorded = json.loads((tmp_path / "data" / R.LEDGER).read_text())["files"]["features.pkl"]
    (tmp_path / "data" / "features.pkl").unlink()
    server.routes["/files/features.pkl"].body = b"\x80\x04 a different file"
    with pytest.raises(ChecksumMismatch, match="recorded at first download"):
        R.download_release("movienet-sulun2024", tmp_path / "data", progress=False)
    assert not (tmp_path / "data" / "features.pkl").exists()
    ledger = json.loads((tmp_path / "data" / R.LEDGER).read_text())
    assert ledger["files"]["features.pkl"]["sha256"] == recorded["sha256"]  # pin kept


def test_more_bytes_than_listed_are_refused(tmp_path, server, monkeypatch):
    files, _ = _sulun_files(tmp_path, server)
    files[1]["size"] -= 10
    _table(tmp_path, monkeypatch, "movienet-sulun2024", files)
    with pytest.raises(R.ReleaseDownloadError, match="listing gives"):
        R.download_release("movienet-sulun2024", tmp_path / "data", files=["splits.json"])
    assert not list((tmp_path / "data").glob("splits.json*"))


def _tar_gz(folder: Path, arcname: str) -> bytes:
    """`tar czf trailers_<rep>.zarr.tar.gz trailers_<rep>.zarr` (what DIViTA unpacks)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=arcname)
    return buffer.getvalue()


def test_trailers12k_archives_are_verified_unpacked_and_imported(tmp_path, server, monkeypatch):
    release = write_trailers12k_release(tmp_path / "publisher")
    csv_bytes = (tmp_path / "publisher" / "trailers12k_mgtc.csv").read_bytes()
    files = [_entry(server, "mtgc.csv", csv_bytes)]
    for rep in release["values"]:
        body = _tar_gz(tmp_path / "publisher" / f"{rep}.zarr", f"trailers_{rep}.zarr")
        files.append(_entry(server, f"trailers_{rep}.zarr.tar.gz", body, listed=False,
                            md5=hashlib.md5(body).hexdigest(), unpack=True))  # fmt: skip
    server.routes[f"/files/{files[1]['name']}"].drop_after = [100]
    _table(tmp_path, monkeypatch, "trailers12k", files)
    data = tmp_path / "data"
    report = R.download_release("trailers12k", data, progress=False)
    assert sorted(report.unpacked) == sorted(f["name"] for f in files[1:])
    assert not list(data.glob("*.tar.gz")) and not list(data.glob(".unpack-*"))
    summary = import_release("trailers12k", data, tmp_path / "t12k.zarr")
    assert summary.imported == len(release["mids"])
    store = FeatureStore.open(tmp_path / "t12k.zarr")
    for rep, arrays in release["values"].items():
        for mid, array in arrays.items():
            np.testing.assert_array_equal(store.get(mid, f"trailers12k_{rep}").values, array)
        archive = next(f for f in files if f["name"] == f"trailers_{rep}.zarr.tar.gz")
        provenance = store.provenance(f"trailers12k_{rep}")
        assert (provenance["archive_md5"], provenance["archive_url"]) == (
            archive["md5"], archive["url"]
        )  # fmt: skip
    before = len(server.requests)
    again = R.download_release("trailers12k", data, progress=False)
    assert len(server.requests) == before and len(again.present) == len(files)


def _tar_with(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, body in members:
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    "member",
    [
        (tarfile.TarInfo("../escaped.txt"), b"x"),
        (tarfile.TarInfo("/tmp/absolute.txt"), b"x"),
        (_link("trailers_x.zarr/link", "/etc/passwd", tarfile.SYMTYPE), b""),
        (_link("trailers_x.zarr/hard", "/etc/passwd", tarfile.LNKTYPE), b""),
    ],
    ids=["dotdot", "absolute", "symlink", "hardlink"],
)
def test_an_unsafe_archive_is_refused_and_leaves_nothing(tmp_path, server, monkeypatch, member):
    body = _tar_with([(tarfile.TarInfo("trailers_x.zarr/.zgroup"), b"{}"), member])
    files = [_entry(server, "trailers_x.zarr.tar.gz", body, unpack=True)]
    _table(tmp_path, monkeypatch, "trailers12k", files)
    data = tmp_path / "sub" / "data"
    with pytest.raises(UnsafeArchive, match="refusing"):
        R.download_release("trailers12k", data, progress=False)
    assert sorted(p.name for p in data.iterdir()) == [R.LEDGER, "trailers_x.zarr.tar.gz"]
    assert not (tmp_path / "sub" / "escaped.txt").exists()


def test_the_published_table_is_well_formed():
    known = R.releases()
    sulun, t12k = known["movienet-sulun2024"], known["trailers12k"]
    assert [f.name for f in sulun.files if f.default] == [
        "features.pkl", "splits.json", "trailers_genres_clean.csv"
    ]  # fmt: skip
    assert {f.name for f in sulun.files if not f.default} == {
        f"{m}{s}.pt" for m in ("mlp", "single_transformer", "multi_transformer")
        for s in ("", "_config")
    } | {"stats.pt"}  # fmt: skip
    # serkansulun/movie-genre-classification at caac031: preprocessing/data/stats.pt
    assert {f.name: f.size for f in sulun.files}["stats.pt"] == 1816
    # richardtml/DIViTA files.py (2022-10-13, "Update Zenodo URLs"): Zenodo record 5716410
    assert {f.name: f.md5 for f in t12k.files}["mtgc.csv"] == "d730579950345b2c0f9c4a9779bd9d44"
    assert all(f.unpack for f in t12k.files if f.name.endswith(".tar.gz"))
    for release in known.values():
        for f in release.files:
            assert f.url.startswith("https://")
            assert f.md5 is None or re.fullmatch(r"[0-9a-f]{32}", f.md5)
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256)
    with pytest.raises(R.ReleaseDownloadError, match="known"):
        R.get_release("mmx-trailer-20")


def test_a_zip_unpacks_and_a_zip_slip_is_refused(tmp_path):
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    with zipfile.ZipFile(good, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("rep.zarr/.zgroup", '{"zarr_format": 2}')
        z.writestr("rep.zarr/m1/0.0", b"\x00" * 64)
    (tmp_path / "out").mkdir()
    assert R.unpack(good, tmp_path / "out") == ["rep.zarr"]
    assert (tmp_path / "out" / "rep.zarr" / "m1" / "0.0").read_bytes() == b"\x00" * 64
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("rep2.zarr/.zgroup", "{}")
        z.writestr("../escaped", b"x")
    with pytest.raises(UnsafeArchive, match="zip-slip"):
        R.unpack(bad, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["rep.zarr"]
    assert not (tmp_path / "escaped").exists()
    with pytest.raises(UnsafeArchive, match="bomb"):
        R.unpack(good, tmp_path / "out", max_bytes=10)
