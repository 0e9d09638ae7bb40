"""Language identification and the paper's "<Language> language" replacement."""

from __future__ import annotations

import pytest

from cinefeat.extract.text.asr_backends import heard_language
from cinefeat.extract.text.language import LANGUAGE_IDS, EnglishOnly, language_name

SENTENCES = {
    "English": "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "French": "Il était une fois une petite fille qui vivait au bord de la forêt avec sa mère.",
    "German": "Es war einmal ein kleines Mädchen, das mit seiner Mutter am Rand des Waldes lebte.",
    "Spanish": "Había una vez una niña que vivía con su madre a la orilla del bosque.",
}


@pytest.fixture(scope="module")
def english_only() -> EnglishOnly:
    return EnglishOnly(LANGUAGE_IDS.create("lingua"))


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_lingua_labels_each_sentence(english_only: EnglishOnly, language: str) -> None:
    guess = english_only.identifier.identify(SENTENCES[language])
    assert guess.language == language
    text, detected = english_only.apply(SENTENCES[language])
    assert detected == language
    expected = SENTENCES[language] if language == "English" else f"{language} language"
    assert text == expected


def test_short_lines_are_kept_undecided(english_only: EnglishOnly) -> None:
    assert english_only.apply("Made with") == ("Made with", None)


def test_language_heard_in_the_audio_decides(english_only: EnglishOnly) -> None:
    # an English-only ASR model writes French speech as invented English: the audio decides
    assert english_only.apply("I'm not sure if it's possible", heard="French") == (
        "French language",
        "French",
    )
    assert heard_language("fr", 0.93, multilingual=True) == "French"
    assert heard_language("fr", 0.93, multilingual=False) is None  # *.en models always say en
    assert heard_language("fr", 0.2, multilingual=True) is None
    assert language_name("de") == "German"


def test_unknown_lingua_language_names_the_fix() -> None:
    with pytest.raises(ValueError, match="English names such as 'French'"):
        LANGUAGE_IDS.create("lingua", languages=("Klingon",))
