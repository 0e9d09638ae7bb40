"""Shared fixtures. No `__init__.py` under tests/: pytest runs in importlib mode."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("cinefeat"):  # our own errors; libraries log theirs
            self.records.append(record)


@pytest.fixture(autouse=True)
def no_error_logs(request: pytest.FixtureRequest):
    """Fail any test that logs an ERROR it did not announce (PySceneDetect's conftest does the
    same): an error log is a bug or an expected failure, and the test must say which with
    `@pytest.mark.expect_error_log`."""
    handler = _ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    yield
    root.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("expect_error_log") is None:
        lines = [f"{r.name}: {r.getMessage()[:200]}" for r in handler.records[:5]]
        pytest.fail("logged at ERROR without @pytest.mark.expect_error_log:\n" + "\n".join(lines))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only `shared/` folder beside the checkout (real media, weights, data)."""
    root = os.environ.get("CINEFEAT_SHARED")
    if not root or not Path(root).is_dir():
        pytest.skip("CINEFEAT_SHARED is not set: real media/weights are not available here")
    return Path(root)


@pytest.fixture(scope="session")
def media(shared_dir: Path):
    """`media("bikes.mp4")` -> path of a real clip in $CINEFEAT_SHARED/media."""

    def find(name: str) -> Path:
        path = shared_dir / "media" / name
        if not path.exists():
            pytest.skip(f"{path} is missing")
        return path

    return find


@pytest.fixture
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty, offline weights cache for one test."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("CINEFEAT_CACHE", str(cache))
    monkeypatch.setenv("CINEFEAT_OFFLINE", "1")
    return cache


@pytest.fixture
def unpublished(monkeypatch: pytest.MonkeyPatch):
    """`unpublished(name)`: drop entry `name`'s published md5/sha256 for one test.

    Random-weight stand-ins written in a publisher's file layout cannot have the publisher's
    checksums (PANNs' Zenodo md5, ...); without this the cache rightly refuses them. The format,
    size and recorded-hash checks still run.
    """
    import dataclasses

    from cinefeat.extract import pretrained

    def drop(name: str) -> None:
        entry = pretrained.get_weights(name)
        files = tuple(dataclasses.replace(f, md5=None, sha256=None) for f in entry.files)
        monkeypatch.setitem(pretrained._TABLE, name, dataclasses.replace(entry, files=files))

    return drop


@pytest.fixture(autouse=True)
def _restore_root_log_level():
    """`cinefeat --quiet ...` run in-process sets the root logger to ERROR (store/console.py
    `setup_logging`); without restoring it, later tests' `caplog` sees no warnings."""
    import logging

    root = logging.getLogger()
    level, disabled = root.level, logging.root.manager.disable
    yield
    root.setLevel(level)
    if logging.root.manager.disable != disabled:  # a library called logging.disable(...)
        logging.disable(disabled)
