"""`--hwaccel`: hardware video decoding where it works, a clean fallback to software where not,
and a log line saying which ran."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract import hwdecode
from cinefeat.extract.extractors import EXTRACTORS
from cinefeat.extract.runner import LocalRunner, RunOptions
from cinefeat.extract.scan import Trailer


@pytest.fixture(autouse=True)
def fresh_resolution():
    hwdecode.reset()
    yield
    hwdecode.reset()


def test_choices() -> None:
    assert hwdecode.candidates("none") == []
    with pytest.raises(ValueError, match="--hwaccel"):
        hwdecode.candidates("vulkan-please")


def colorhist_rows(store_factory, video: Path, hwaccel: str) -> np.ndarray:
    store = store_factory()
    extractors = {"colorhist": EXTRACTORS.create("colorhist", sampler="every-k")}
    runner = LocalRunner(store, extractors, RunOptions(hwaccel=hwaccel))
    summary = runner.run([Trailer("t", video)])
    assert (summary.ok, summary.failed) == (1, 0), summary.failures
    return np.asarray(store.get("t", "colorhist").values)


def test_cuda_falls_back_to_software_with_a_log_line(
    cuts_video: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from cinefeat.store.memory import MemoryStore

    software = colorhist_rows(MemoryStore, cuts_video, "none")
    with caplog.at_level(logging.INFO, logger="cinefeat.extract.hwdecode"):
        rows = colorhist_rows(MemoryStore, cuts_video, "cuda")
    messages = [r.getMessage() for r in caplog.records if r.name == "cinefeat.extract.hwdecode"]
    assert len(messages) == 1, messages  # said once, not per file or per pass
    if hwdecode.used("cuda") == "cuda":  # a machine where NVDEC works (a lent GPU)
        assert "on cuda (hardware" in messages[0]
        assert rows.shape == software.shape
    else:  # no device here: software decoding, the very same rows
        assert "in software: --hwaccel cuda unavailable" in messages[0]
        assert caplog.records[-1].levelno == logging.WARNING  # asked for cuda explicitly
        np.testing.assert_array_equal(rows, software)


def test_auto_without_a_known_device_type_decodes_in_software(
    cuts_video: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cinefeat.store.memory import MemoryStore

    monkeypatch.setattr(hwdecode, "AUTO_ORDER", ("no-such-device",))
    with caplog.at_level(logging.INFO, logger="cinefeat.extract.hwdecode"):
        colorhist_rows(MemoryStore, cuts_video, "auto")
    assert hwdecode.used("auto") == "software"
    assert any("has no such device type" in r.getMessage() for r in caplog.records)
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name.endswith("hwdecode"))


def test_cli_hwaccel_option(tmp_path: Path, cuts_video_maker) -> None:
    from click.testing import CliRunner

    from cinefeat.cli.main import main
    from cinefeat.store import FeatureStore

    root = tmp_path / "trailers"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red", "blue"], audio=False)
    store = tmp_path / "s.zarr"
    args = ["extract", str(root), "--store", str(store), "--features", "colorhist"]
    result = CliRunner().invoke(main, [*args, "--hwaccel", "cuda"])
    assert result.exit_code == 0, result.output
    assert FeatureStore.open(store).ids(status="ok") == ["a"]
    refused = CliRunner().invoke(main, [*args, "--hwaccel", "vdpau"])
    assert refused.exit_code == 2 and "--hwaccel" in refused.output
