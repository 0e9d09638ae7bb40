"""Fixtures of the text-feature tests: decoded real media and models loaded once per session.

Frames are decoded here with PyAV (the pipeline's `every-seconds` sampler does the same in
production): one frame every `interval_s`, resized to a short side, each with its span.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def decode_every(
    path: Path, interval_s: float, short_side: int
) -> list[tuple[np.ndarray, tuple[float, float]]]:
    import av

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        scale = short_side / min(stream.codec_context.width, stream.codec_context.height)
        width = round(stream.codec_context.width * scale / 2) * 2
        height = round(stream.codec_context.height * scale / 2) * 2
        due = 0.0
        for frame in container.decode(stream):
            time = float(frame.pts * stream.time_base)
            if time + 1e-6 >= due:
                image = frame.to_ndarray(format="rgb24", width=width, height=height)
                frames.append((image, (due, due + interval_s)))
                due += interval_s
    return frames


def decode_audio(path: Path, rate: int = 16_000) -> np.ndarray:
    from faster_whisper.audio import decode_audio as decode

    return decode(str(path), sampling_rate=rate)


@pytest.fixture(scope="session")
def frames_every():
    """`frames_every(path, interval_s, short_side)`: frames as the `every-seconds` sampler gives."""
    return decode_every


@pytest.fixture(scope="session")
def audio_16k():
    """`audio_16k(path)`: mono float32 at 16 kHz, as the pipeline gives to the `asr` extractor."""
    return decode_audio


@pytest.fixture(scope="session")
def minilm():
    from cinefeat.extract.text.encoders import shared_encoder

    return shared_encoder("minilm")


@pytest.fixture(scope="session")
def ocr_extractor(minilm):
    """The `ocr` extractor with its defaults (it shares the session's MiniLM)."""
    from cinefeat.extract.extractors.ocr import OcrExtractor

    extractor = OcrExtractor()
    extractor.load("cpu")
    return extractor


@pytest.fixture(scope="session")
def asr_extractor(minilm):
    from cinefeat.extract.extractors.asr import AsrExtractor

    extractor = AsrExtractor()
    extractor.load("cpu")
    return extractor
