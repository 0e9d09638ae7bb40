"""`asr`: speech as token embeddings over time (Whisper segments -> text encoder tokens).

Why Whisper with voice activity filtering: trailers are mostly music and effects, and Whisper
invents words over music; the VAD keeps only speech. Pipeline per trailer: ASR backend (segments
with start/end) -> non-English segments replaced by "<Language> language" (spoken language from a
multilingual model, else identified from the text) -> token embeddings, one row per token with
its segment's span. The segments are kept in `FeatureRows.texts`.

No speech (or no audio stream at all) gives zero rows with status ok: silence is a fact about
the trailer, not a failure, and the heads treat an empty sequence as "no dialogue".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract.base import (
    ExtractorConfig,
    FeatureRows,
    TrailerExtractor,
    TrailerRequest,
    register_extractor,
)
from cinefeat.extract.text.asr_backends import ASR_BACKENDS, SAMPLE_RATE
from cinefeat.extract.text.encoders import ENCODER_DIMS, shared_encoder
from cinefeat.extract.text.language import LANGUAGE_IDS, EnglishOnly
from cinefeat.extract.text.lines import TextLine
from cinefeat.extract.text.rows import clean_lines, rows_from_lines


@dataclass
class AsrConfig(ExtractorConfig):
    """`language=None`: a multilingual model detects the language (docs/extractors/asr.md)."""

    backend: str = "faster-whisper"
    model: str = "tiny.en"
    vad: bool = True
    beam_size: int = 5
    language: str | None = None
    language_id: str | None = "lingua"
    encoder: str = "minilm"
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"asr beam_size must be >= 1, got {self.beam_size}")
        for what, value, choices in (
            ("asr backend", self.backend, ASR_BACKENDS.names()),
            ("encoder", self.encoder, list(ENCODER_DIMS)),
        ):
            if value not in choices:
                raise ValueError(f"unknown {what} {value!r}; choose from: {', '.join(choices)}")
        if self.language_id is not None and self.language_id not in LANGUAGE_IDS.names():
            raise ValueError(
                f"unknown language_id {self.language_id!r}; choose from: "
                f"{', '.join(LANGUAGE_IDS.names())}"
            )


@register_extractor
class AsrExtractor(TrailerExtractor):
    name = "asr"
    config_class = AsrConfig
    config: AsrConfig

    @property
    def dim(self) -> int:
        return ENCODER_DIMS[self.config.encoder]

    def request(self) -> TrailerRequest:
        return TrailerRequest(frames=None, audio_rate=SAMPLE_RATE)

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        c = self.config
        self.device, self.fp16 = device, fp16 and device.startswith("cuda")
        self.backend = ASR_BACKENDS.create(
            c.backend,
            model=c.model,
            device=device,
            fp16=self.fp16,
            vad=c.vad,
            beam_size=c.beam_size,
            language=c.language,
        )
        self.english = (
            EnglishOnly(LANGUAGE_IDS.create(c.language_id)) if c.language_id is not None else None
        )
        self.encoder = shared_encoder(c.encoder, device, self.fp16, c.batch_size)

    def model_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "model": f"{self.config.backend}:{self.config.model}+{self.config.encoder}",
            "layer": "last_hidden_state tokens",
        }
        if hasattr(self, "encoder"):
            info.update(self.encoder.model_info())
        return info

    def transcribe(self, audio: np.ndarray | None) -> list[TextLine]:
        """Segments with language replacement applied (before encoding)."""
        if audio is None or len(audio) == 0:
            return []
        return clean_lines(self.backend.transcribe(audio), None, self.english)

    def extract_trailer(
        self,
        frames: list[tuple[np.ndarray, tuple[float, float]]] | None,
        audio: np.ndarray | None,
        duration_s: float,
    ) -> FeatureRows:
        return rows_from_lines(self.transcribe(audio), self.encoder)
