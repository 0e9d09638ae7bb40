"""Language identification of recognised text, and the paper's replacement of non-English text.

Why replace: the text encoders are English models, so the tokens of a French transcript would be
noise; Sulun et al. replaced any non-English transcript by the sentence "<Language> language",
which keeps the one useful fact (a French film) in a form the encoder understands.

Only confident decisions replace text: a line shorter than `min_chars`, or one whose detected
non-English language has confidence below `min_confidence`, is kept as it is (short OCR lines
such as "Made with" are too short to identify, and most trailers are English).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from cinefeat.extract.text import weights  # registers the text models' weights
from cinefeat.extract.text.registry import BackendRegistry, require

ENGLISH = "English"


@dataclass(frozen=True)
class LanguageGuess:
    language: str | None  # English name ("French"), None when undecided
    confidence: float


class LanguageIdentifier(Protocol):
    def identify(self, text: str) -> LanguageGuess: ...


LANGUAGE_IDS: BackendRegistry[LanguageIdentifier] = BackendRegistry("language-id")


FILM_LANGUAGES = (
    "Arabic",
    "Bulgarian",
    "Chinese",
    "Danish",
    "Dutch",
    "English",
    "French",
    "German",
    "Greek",
    "Hindi",
    "Italian",
    "Japanese",
    "Korean",
    "Polish",
    "Portuguese",
    "Russian",
    "Spanish",
    "Swahili",
    "Swedish",
    "Thai",
    "Turkish",
    "Urdu",
    "Vietnamese",
)
"""Default candidates: the 20 languages of the xlm-roberta identifier plus Korean, Swedish and
Danish. Fewer candidates load faster (9 s vs 22 s for all 75 here) and confuse English less with
its close relatives (Scots, Frisian, ...), which short OCR lines would otherwise trigger."""


@LANGUAGE_IDS.register("lingua")
class LinguaIdentifier:
    """lingua-language-detector (n-gram models inside its wheel, offline).

    `languages`: candidate English names (None = all 75 lingua knows). `low_accuracy` uses only
    trigram models: about 10x faster to load, less reliable on short lines. The detector is
    cached per process because its models take seconds to load.
    """

    def __init__(
        self, languages: tuple[str, ...] | None = FILM_LANGUAGES, low_accuracy: bool = False
    ) -> None:
        self.detector = _lingua_detector(tuple(languages) if languages else None, low_accuracy)

    def identify(self, text: str) -> LanguageGuess:
        language = self.detector.detect_language_of(text)
        if language is None:
            return LanguageGuess(None, 0.0)
        confidence = self.detector.compute_language_confidence(text, language)
        return LanguageGuess(language.name.title(), float(confidence))


@lru_cache(maxsize=4)
def _lingua_detector(languages: tuple[str, ...] | None, low_accuracy: bool) -> Any:
    lingua = require("lingua", "extract")
    if languages:
        chosen = [_lingua_language(lingua, name) for name in languages]
        builder = lingua.LanguageDetectorBuilder.from_languages(*chosen)
    else:
        builder = lingua.LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


@LANGUAGE_IDS.register("xlm-roberta")
class XlmRobertaIdentifier:
    """papluca/xlm-roberta-base-language-detection (20 languages; the Sulun et al. choice).

    Weights come from the project's weights table (`cinefeat models download
    xlm-roberta-base-language-detection`); labels are ISO 639-1 codes mapped to English names.
    """

    def __init__(self, device: str = "cpu") -> None:
        from cinefeat.extract.pretrained import fetch_all

        transformers = require("transformers", "extract")
        directory = fetch_all(weights.XLM_ROBERTA_LANGUAGE.name)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
        self.model = (
            transformers.AutoModelForSequenceClassification.from_pretrained(
                directory, use_safetensors=True
            )
            .to(device)
            .eval()
        )
        self.device = device

    def identify(self, text: str) -> LanguageGuess:
        import torch

        inputs = self.tokenizer(text, return_tensors="pt", truncation=True).to(self.device)
        with torch.inference_mode():
            probabilities = self.model(**inputs).logits.softmax(-1)[0]
        index = int(probabilities.argmax())
        code = self.model.config.id2label[index]
        return LanguageGuess(ISO_NAMES.get(code, code), float(probabilities[index]))


ISO_NAMES = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "sw": "Swahili",
    "th": "Thai",
    "tr": "Turkish",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh": "Chinese",
}


@dataclass
class EnglishOnly:
    """Applies the replacement rule with one identifier (see the module docstring)."""

    identifier: LanguageIdentifier
    min_chars: int = 12
    min_confidence: float = 0.5

    def apply(self, text: str, heard: str | None = None) -> tuple[str, str | None]:
        """(text to encode, detected language or None when undecided).

        `heard` is a language already identified from the audio (a multilingual Whisper model's
        spoken-language detection): it decides, because an English-only ASR model writes foreign
        speech as invented English that no text identifier can recognise as foreign.
        """
        if heard is not None:
            return (text, heard) if heard == ENGLISH else (f"{heard} language", heard)
        if len(text.strip()) < self.min_chars:
            return text, None
        guess = self.identifier.identify(text)
        if guess.language == ENGLISH:
            return text, ENGLISH
        if guess.language is None or guess.confidence < self.min_confidence:
            return text, None
        return f"{guess.language} language", guess.language


def language_name(iso_639_1: str) -> str | None:
    """English name of an ISO 639-1 code ("fr" -> "French"); None when lingua does not know it."""
    lingua = require("lingua", "extract")
    try:
        code = lingua.IsoCode639_1.from_str(iso_639_1)
        return lingua.Language.from_iso_code_639_1(code).name.title()
    except (ValueError, AttributeError):
        return ISO_NAMES.get(iso_639_1)


def _lingua_language(lingua: Any, name: str) -> Any:
    try:
        return getattr(lingua.Language, name.upper())
    except AttributeError:
        raise ValueError(
            f"lingua knows no language {name!r}; use English names such as 'French'"
        ) from None
