"""The `asr` extractor: real speech (WER), music without speech, and the openai-whisper loader."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract.pretrained import ChecksumMismatch, add_local, entry_dir
from cinefeat.extract.text.asr_backends import load_openai_whisper
from cinefeat.extract.text.rows import lines_from_texts
from cinefeat.extract.text.wer import word_error_rate

TWO_CITIES_44S = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
    "age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the "
    "season of Light, it was the season of Darkness, it was the spring of hope, it was the winter "
    "of despair, we had everything before us, we had nothing before us, we were all going direct "
    "to Heaven, we were all going direct the other way - in short, the period was so far like the "
    "present period, that some of its noisiest authorities insisted on its being received, for "
    "good or for evil, in the superlative degree of comparison only."
)


def test_word_error_rate_known_answers() -> None:
    assert word_error_rate("it was the best", "it was the best") == 0.0
    assert word_error_rate("it was the best", "it was best of") == 0.5  # 1 deletion, 1 insertion


def test_two_cities_word_error_rate(media, asr_extractor, audio_16k) -> None:
    audio = audio_16k(media("two_cities.wav"))
    rows = asr_extractor.extract_trailer(None, audio, len(audio) / 16_000)
    segments = lines_from_texts(rows.texts)
    hypothesis = " ".join(segment.text for segment in segments)
    assert word_error_rate(TWO_CITIES_44S, hypothesis) <= 0.15, hypothesis
    # English, or undecided for short fragments ("only."): never replaced
    assert {segment.language for segment in segments} <= {"English", None}
    assert all(s.language == "English" for s in segments if len(s.text) >= 60)
    starts = [segment.start_s for segment in segments]
    assert starts == sorted(starts) and 0.0 <= starts[0] < 2.0 and segments[-1].end_s <= 44.5
    assert rows.values.shape == (len(rows.texts), 384)


def test_silence_and_no_audio_give_zero_rows(asr_extractor) -> None:
    assert len(asr_extractor.extract_trailer(None, np.zeros(16_000 * 3, np.float32), 3.0)) == 0
    assert len(asr_extractor.extract_trailer(None, None, 3.0)) == 0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_french_speech_becomes_french_language(tmp_path: Path, audio_16k) -> None:
    """Needs a multilingual Whisper (English-only tiny.en writes French as invented English)."""
    from cinefeat.extract.extractors.asr import AsrExtractor

    extractor = AsrExtractor(model="tiny")
    try:
        extractor.load("cpu")
    except Exception as error:
        pytest.skip(f"no multilingual Whisper model available offline: {error}")
    wav = tmp_path / "fr.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "fr",
            "-w",
            str(wav),
            "Bonjour à tous. Aujourd'hui nous parlons du cinéma français et de ses "
            "grands réalisateurs.",
        ],
        check=True,
    )
    lines = extractor.transcribe(audio_16k(wav))
    assert lines and all(line.text == "French language" for line in lines)


def save_random_whisper(path: Path) -> dict:
    """A tiny random English-only Whisper in the published checkpoint format."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51864,
        n_text_ctx=448,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    # random values everywhere: some Whisper parameters are `torch.empty` (uninitialised memory,
    # possibly NaN), which would make an exact comparison meaningless
    generator = torch.Generator().manual_seed(0)
    state = {
        k: torch.randn(v.shape, generator=generator).to(v.dtype) if v.is_floating_point() else v
        for k, v in Whisper(dims).state_dict().items()
    }
    torch.save({"dims": asdict(dims), "model_state_dict": state}, path)
    return state


def test_openai_whisper_checkpoint_loads_through_the_weights_table(tmp_cache: Path) -> None:
    pytest.importorskip("whisper")
    checkpoint = tmp_cache / "my-tiny.en.pt"
    state = save_random_whisper(checkpoint)
    add_local("openai-whisper-tiny.en", checkpoint, like="openai-whisper-tiny.en")
    network = load_openai_whisper("tiny.en")
    assert network.dims.n_audio_state == 32 and not network.is_multilingual
    for name, tensor in network.state_dict().items():
        assert np.array_equal(tensor.numpy(), state[name].numpy()), name


def test_openai_whisper_rejects_a_file_that_is_not_the_published_one(tmp_cache: Path) -> None:
    pytest.importorskip("whisper")
    target = entry_dir("openai-whisper-tiny.en") / "tiny.en.pt"
    target.parent.mkdir(parents=True)
    save_random_whisper(target)
    with pytest.raises(ChecksumMismatch, match=r"cinefeat models download openai-whisper-tiny\.en"):
        load_openai_whisper("tiny.en")
