"""Weights downloads against a loopback server that misbehaves like real hosts do.

What must hold (issue 14): nothing enters the cache, and no hash is recorded, unless the bytes are
the published file; a dropped connection resumes with a Range request instead of restarting.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.extract import download as transport
from cinefeat.extract import pretrained


def _load_server_module():
    """weights_server.py beside this file (tests/ is not a package: importlib mode)."""
    name = "cinefeat_tests_weights_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("weights_server.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


server_module = _load_server_module()
HTML = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"


def _checkpoint_bytes(n: int = 300_000) -> bytes:
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.arange(n // 4, dtype=torch.float32)}}, buffer)
    return buffer.getvalue()


@pytest.fixture
def server():
    with server_module.WeightsServer() as running:
        yield running


@pytest.fixture
def online(tmp_cache, monkeypatch):
    monkeypatch.setenv("CINEFEAT_OFFLINE", "0")
    monkeypatch.setattr(transport, "BACKOFF_S", 0.0)
    monkeypatch.setattr(transport, "CHUNK", 16 * 1024)  # several reads per file
    return tmp_cache


def _entry(monkeypatch, server, name: str, path: str, **pins) -> pretrained.PretrainedWeights:
    entry = pretrained.PretrainedWeights(
        name=name,
        files=(pretrained.RemoteFile("model.pth", server.url(path), **pins),),
        format="pytorch-checkpoint-dict",
        licence="test",
    )
    monkeypatch.setitem(pretrained._TABLE, name, entry)
    return entry


def _recorded(cache: Path) -> dict:
    path = cache / "recorded-sha256.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_html_page_with_status_200_leaves_nothing_and_the_next_download_succeeds(
    online, server, monkeypatch
):
    good = _checkpoint_bytes()
    server.routes["/w"] = server_module.Route(HTML, content_type="application/octet-stream")
    _entry(monkeypatch, server, "t-html", "/w")
    with pytest.raises(pretrained.DownloadRejected, match="HTML page"):
        pretrained.fetch("t-html")
    assert _recorded(online) == {}
    assert not list((online / "t-html").iterdir())
    server.routes["/w"] = server_module.Route(good)
    path = pretrained.fetch("t-html")
    assert path.read_bytes() == good
    assert _recorded(online) == {"t-html/model.pth": hashlib.sha256(good).hexdigest()}


def test_html_content_type_is_refused_before_the_body_is_stored(online, server, monkeypatch):
    server.routes["/w"] = server_module.Route(HTML, content_type="text/html; charset=utf-8")
    _entry(monkeypatch, server, "t-html-type", "/w")
    with pytest.raises(pretrained.WeightsNotFound, match="answered a web page"):
        pretrained.fetch("t-html-type")
    assert _recorded(online) == {}
    assert not (online / "t-html-type" / "model.pth").exists()


def test_dropped_connection_resumes_with_range(online, server, monkeypatch):
    good = _checkpoint_bytes()
    server.routes["/w"] = server_module.Route(good, drop_after=[100_000, 50_000])
    _entry(monkeypatch, server, "t-drop", "/w", sha256=hashlib.sha256(good).hexdigest())
    path = pretrained.fetch("t-drop")
    assert path.read_bytes() == good
    ranges = [rng for p, rng in server.requests if p == "/w"]
    assert ranges == [None, "bytes=100000-", "bytes=150000-"]
    assert not path.with_name("model.pth.partial").exists()


def test_a_download_cut_off_in_one_run_resumes_in_the_next(online, server, monkeypatch):
    good = _checkpoint_bytes()
    server.routes["/w"] = server_module.Route(good, drop_after=[120_000])
    _entry(monkeypatch, server, "t-later", "/w")
    monkeypatch.setattr(transport, "ATTEMPTS", 1)
    with pytest.raises(pretrained.WeightsNotFound, match="next download resumes"):
        pretrained.fetch("t-later")
    partial = online / "t-later" / "model.pth.partial"
    assert partial.stat().st_size == 120_000 and _recorded(online) == {}
    assert pretrained.fetch("t-later").read_bytes() == good
    assert server.requests[-1] == ("/w", "bytes=120000-")


def test_503_answers_are_retried_with_backoff(online, server, monkeypatch):
    good = _checkpoint_bytes()
    server.routes["/w"] = server_module.Route(good, fail_first=2)
    _entry(monkeypatch, server, "t-503", "/w")
    waits: list[float] = []
    monkeypatch.setattr(transport, "BACKOFF_S", 0.5)
    monkeypatch.setattr(transport.time, "sleep", waits.append)
    assert pretrained.fetch("t-503").read_bytes() == good
    assert waits == [0.5, 1.0] and len(server.requests) == 3


def test_404_is_not_retried_and_names_the_status(online, server, monkeypatch):
    _entry(monkeypatch, server, "t-404", "/missing")
    with pytest.raises(pretrained.WeightsNotFound, match="HTTP 404") as error:
        pretrained.fetch("t-404")
    assert "cinefeat models download t-404" in str(error.value)
    assert len(server.requests) == 1


def test_a_server_that_ignores_range_restarts_cleanly(online, server, monkeypatch):
    good = _checkpoint_bytes()
    server.routes["/w"] = server_module.Route(good, drop_after=[70_000], honour_range=False)
    _entry(monkeypatch, server, "t-norange", "/w", sha256=hashlib.sha256(good).hexdigest())
    assert pretrained.fetch("t-norange").read_bytes() == good


def test_a_stale_partial_longer_than_the_file_starts_over(online, server, monkeypatch):
    good = _checkpoint_bytes()
    server.routes["/w"] = server_module.Route(good)
    _entry(monkeypatch, server, "t-stale", "/w")
    partial = online / "t-stale" / "model.pth.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"x" * (len(good) + 10))
    assert pretrained.fetch("t-stale").read_bytes() == good


def test_published_checksums_are_checked_before_the_file_enters_the_cache(
    online, server, monkeypatch
):
    good = _checkpoint_bytes()
    server.routes["/w"] = server_module.Route(good)
    _entry(monkeypatch, server, "t-sha", "/w", sha256="0" * 64)
    with pytest.raises(pretrained.DownloadRejected, match=r"sha256 .* differs from the published"):
        pretrained.fetch("t-sha")
    _entry(monkeypatch, server, "t-md5-bad", "/w", md5="0" * 32)
    with pytest.raises(pretrained.DownloadRejected, match=r"md5 .* differs from the published"):
        pretrained.fetch("t-md5-bad")
    _entry(monkeypatch, server, "t-size", "/w", size=len(good) + 1)
    with pytest.raises(pretrained.DownloadRejected, match="the publisher lists"):
        pretrained.fetch("t-size")
    assert _recorded(online) == {}
    assert not [p for p in online.rglob("model.pth*") if p.parent.name != ".locks"]
    _entry(monkeypatch, server, "t-md5", "/w", md5=hashlib.md5(good).hexdigest())
    assert pretrained.fetch("t-md5").read_bytes() == good
    assert _recorded(online) == {"t-md5/model.pth": hashlib.sha256(good).hexdigest()}


def test_upstream_change_is_a_mismatch_that_names_forget_and_forget_fixes_it(
    online, server, monkeypatch
):
    first, second = _checkpoint_bytes(200_000), _checkpoint_bytes(210_000)
    server.routes["/w"] = server_module.Route(first)
    _entry(monkeypatch, server, "t-moved", "/w")
    path = pretrained.fetch("t-moved")
    path.unlink()  # the user deletes it; upstream has meanwhile published a new version
    server.routes["/w"] = server_module.Route(second)
    with pytest.raises(pretrained.ChecksumMismatch, match="cinefeat models forget t-moved"):
        pretrained.fetch("t-moved")
    assert not path.exists()
    runner = CliRunner()
    result = runner.invoke(main, ["--quiet", "models", "forget", "t-moved"])
    assert result.exit_code == 0 and "forgot 1" in result.output
    assert pretrained.fetch("t-moved").read_bytes() == second


def test_a_file_dropped_into_the_cache_by_hand_is_checked_before_recording(tmp_cache, monkeypatch):
    _entry_offline = pretrained.PretrainedWeights(
        name="t-hand",
        files=(pretrained.RemoteFile("model.pth", "http://127.0.0.1:9/none"),),
        format="pytorch-checkpoint-dict",
        licence="test",
    )
    monkeypatch.setitem(pretrained._TABLE, "t-hand", _entry_offline)
    path = tmp_cache / "t-hand" / "model.pth"
    path.parent.mkdir()
    path.write_bytes(HTML)
    with pytest.raises(pretrained.DownloadRejected, match="Nothing was recorded"):
        pretrained.fetch("t-hand")
    assert _recorded(tmp_cache) == {}
    path.write_bytes(_checkpoint_bytes())
    assert pretrained.fetch("t-hand") == path
    assert "t-hand/model.pth" in _recorded(tmp_cache)
