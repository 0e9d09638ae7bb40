"""`ocr`: on-screen text (title cards, credits, captions) as token embeddings over time.

Why this sampling: title cards fade in and out inside long shots, so the scene-middle frame of
Sulun et al. catches only 2-3 of the 6 cards of our real test trailer. One frame every
`interval_s` (default 1 s, the `every-seconds` frame sampler) catches all six, and consecutive
reads of the same line are merged into one line spanning them, so a card's tokens are stored once
whatever its screen time. Cost: about 0.5-0.8 s of CPU per frame with RapidOCR at 360p (see
docs/bench-text.md), seconds per trailer on a GPU.

Pipeline per trailer: OCR backend (reading order, confidence >= `min_confidence`) -> spelling
repair -> merge repeated lines -> non-English lines replaced by "<Language> language" -> token
embeddings (one row per token, span = the line's time on screen). The lines are kept in
`FeatureRows.texts`. A trailer without text gives zero rows (status ok).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract.base import (
    ExtractorConfig,
    FeatureRows,
    FrameRequest,
    TrailerExtractor,
    TrailerRequest,
    register_extractor,
)
from cinefeat.extract.text.encoders import ENCODER_DIMS, shared_encoder
from cinefeat.extract.text.language import LANGUAGE_IDS, EnglishOnly
from cinefeat.extract.text.lines import TextLine, merge_repeated
from cinefeat.extract.text.ocr_backends import OCR_BACKENDS
from cinefeat.extract.text.rows import clean_lines, rows_from_lines
from cinefeat.extract.text.spelling import SPELLERS

Frames = list[tuple[np.ndarray, tuple[float, float]]]


@dataclass
class OcrConfig(ExtractorConfig):
    """Every stage by registry name; `interval_s` is the frame sampling (docs/extractors/ocr.md)."""

    backend: str = "rapidocr"
    min_confidence: float = 0.75
    interval_s: float = 2.0
    short_side: int = 360
    spelling: str = "symspell"
    language_id: str | None = "lingua"
    encoder: str = "minilm"
    merge_repeated: bool = True
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"ocr min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.interval_s <= 0:
            raise ValueError(f"ocr interval_s must be > 0 seconds, got {self.interval_s}")
        _check_choice("ocr backend", self.backend, OCR_BACKENDS.names())
        _check_choice("spelling", self.spelling, SPELLERS.names())
        _check_choice("encoder", self.encoder, list(ENCODER_DIMS))
        if self.language_id is not None:
            _check_choice("language_id", self.language_id, LANGUAGE_IDS.names())


@register_extractor
class OcrExtractor(TrailerExtractor):
    name = "ocr"
    config_class = OcrConfig
    config: OcrConfig

    @property
    def dim(self) -> int:
        return ENCODER_DIMS[self.config.encoder]

    def request(self) -> TrailerRequest:
        frames = FrameRequest(
            sampler="every-seconds",
            sampler_options=(("interval_s", self.config.interval_s),),
            short_side=self.config.short_side,
        )
        return TrailerRequest(frames=frames, audio_rate=None)

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        c = self.config
        self.device, self.fp16 = device, fp16 and device.startswith("cuda")
        self.backend = OCR_BACKENDS.create(
            c.backend, min_confidence=c.min_confidence, device=device
        )
        self.speller = SPELLERS.create(c.spelling)
        self.english = (
            EnglishOnly(LANGUAGE_IDS.create(c.language_id)) if c.language_id is not None else None
        )
        self.encoder = shared_encoder(c.encoder, device, self.fp16, c.batch_size)

    def model_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "model": f"{self.config.backend}+{self.config.encoder}",
            "layer": "last_hidden_state tokens",
        }
        if hasattr(self, "encoder"):
            info.update(self.encoder.model_info())
        return info

    def read_lines(self, frames: Frames | None) -> list[TextLine]:
        """Recognised, spelled and merged lines in time order (before language and encoding)."""
        per_frame = []
        for frame, span in sorted(frames or [], key=lambda item: item[1][0]):
            per_frame.append(clean_lines(self.backend.read(frame, span), self.speller, None))
        if self.config.merge_repeated:
            return merge_repeated(per_frame)
        return [line for lines in per_frame for line in lines]

    def extract_trailer(
        self, frames: Frames | None, audio: np.ndarray | None, duration_s: float
    ) -> FeatureRows:
        lines = clean_lines(self.read_lines(frames), None, self.english)
        return rows_from_lines(lines, self.encoder)


def _check_choice(what: str, value: str, choices: list[str]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose from: {', '.join(sorted(choices))}")
