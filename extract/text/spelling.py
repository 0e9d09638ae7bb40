"""Spelling repair of OCR lines: a digit/letter confusion map, then symspellpy word lookup.

Why this order: OCR models confuse glyphs that look alike (0/O, 1/I/l, 5/S), which puts digits into
words ("B1ender") and letters into numbers ("2O23"). Such tokens are at a large edit distance from
every dictionary word, so they are repaired first by the map, and only then are the remaining
unknown words looked up in symspellpy's English frequency dictionary (82,765 words, shipped in its
wheel), which fixes the characters lost at the edges of a text box ("Foundatio" -> "Foundation").

The Sulun et al. paper used a neural corrector (Guhr 2023, `oliverguhr/spelling-correction-english-
base`): it is the `bart` entry of `SPELLERS`, with its weights in the project's weights table
(`cinefeat models download spelling-correction-english-base`); the confusion map runs before it
too. It is not the default: it needs a 558 MB download and a generation pass per line, where
symspellpy works offline in microseconds. ASR output is spelled by its language model and is not
corrected.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol

from cinefeat.extract.text.registry import BackendRegistry, require

DIGIT_AS_LETTER = {"0": "o", "1": "l", "5": "s"}
"""A digit inside a word of letters is a misread letter (lower case; upper case is inferred)."""
LETTER_AS_DIGIT = {"o": "0", "O": "0", "l": "1", "I": "1", "i": "1", "S": "5", "s": "5"}
"""A letter inside a number is a misread digit."""

WORD = re.compile(r"[A-Za-z0-9]+")


class Speller(Protocol):
    def correct(self, text: str) -> str: ...


SPELLERS: BackendRegistry[Speller] = BackendRegistry("spelling")


def fix_confusions(token: str) -> str:
    """Repair digit/letter confusions inside one alphanumeric token (pure words/numbers pass)."""
    letters = sum(ch.isalpha() for ch in token)
    digits = sum(ch.isdigit() for ch in token)
    if not letters or not digits:
        return token
    if digits > letters:  # a number with misread digits: "2O23" -> "2023"
        return "".join(LETTER_AS_DIGIT.get(ch, ch) for ch in token)
    upper = sum(ch.isupper() for ch in token) > letters / 2
    out = []
    for index, ch in enumerate(token):
        if ch not in DIGIT_AS_LETTER:
            out.append(ch)
        elif ch == "1":
            out.append("I" if upper else "l")  # I among capitals, l among lower case
        else:
            letter = DIGIT_AS_LETTER[ch]
            out.append(letter.upper() if upper or index == 0 else letter)
    return "".join(out)


@SPELLERS.register("symspell")
class SymSpellSpeller:
    """Confusion map + symspellpy lookup of each unknown word (edit distance <= `max_distance`).

    Short words (< `min_length` letters) and names in camel case ("MoviePy") are left alone: too
    many dictionary words are one edit away from them, so a "fix" would often be wrong. The default
    distance 1 repairs the typical OCR damage (one character lost or misread at a box edge) and
    builds the lookup table in about a quarter of the time distance 2 needs (5 s vs 19 s here).
    """

    def __init__(self, max_distance: int = 1, min_length: int = 4) -> None:
        if max_distance < 0:
            raise ValueError(f"spelling max_distance must be >= 0, got {max_distance}")
        self.max_distance = max_distance
        self.min_length = min_length
        self.symspell = _dictionary(max_distance)

    def correct(self, text: str) -> str:
        return WORD.sub(lambda m: self._word(m.group(0)), text)

    def _word(self, token: str) -> str:
        token = fix_confusions(token)
        if not token.isalpha() or len(token) < self.min_length or _is_camel_case(token):
            return token
        symspellpy = require("symspellpy", "extract")
        lower = token.lower()
        if lower in self.symspell.words:
            return token
        suggestions = self.symspell.lookup(
            lower, symspellpy.Verbosity.TOP, max_edit_distance=self.max_distance
        )
        if not suggestions:
            return token
        return _transfer_case(token, suggestions[0].term)


@SPELLERS.register("bart")
class BartSpeller:
    """Guhr's BART corrector (`spelling-correction-english-base` in the weights table, MIT).

    Each line is first repaired by the confusion map, then rewritten by greedy decoding, as the
    model card's `text2text-generation` pipeline does. Runs on `device` (CPU by default: OCR lines
    are short). Safetensors only; the tokenizer files come from the same verified download.
    """

    def __init__(self, device: str = "cpu", max_length: int = 256) -> None:
        from cinefeat.extract import pretrained
        from cinefeat.extract.text import weights

        transformers = require("transformers", "extract")
        directory = pretrained.fetch_all(weights.SPELLING_BART.name)
        self.sha256 = pretrained.weights_sha256(weights.SPELLING_BART.name, "model.safetensors")
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
        self.model = (
            transformers.AutoModelForSeq2SeqLM.from_pretrained(directory, use_safetensors=True)
            .to(device)
            .eval()
        )
        self.device = device
        self.max_length = max_length

    @staticmethod
    def prepare(text: str) -> str:
        """The text the model sees: digit/letter confusions already repaired."""
        return WORD.sub(lambda m: fix_confusions(m.group(0)), text)

    def correct(self, text: str) -> str:
        import torch

        prepared = self.prepare(text)
        if not prepared.strip():
            return prepared
        inputs = self.tokenizer(
            prepared, return_tensors="pt", truncation=True, max_length=self.max_length
        ).to(self.device)
        limit = min(self.max_length, 2 * int(inputs["input_ids"].shape[1]) + 8)
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_length=limit, num_beams=1, do_sample=False)
        return self.tokenizer.decode(output[0], skip_special_tokens=True).strip()


@SPELLERS.register("none")
class NoSpeller:
    """Keep the recognised text as it is (to measure what correction adds)."""

    def correct(self, text: str) -> str:
        return text


def _is_camel_case(token: str) -> bool:
    return not token.isupper() and any(ch.isupper() for ch in token[1:])


def _transfer_case(source: str, word: str) -> str:
    if source.isupper() and len(source) > 1:
        return word.upper()
    if source[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


@lru_cache(maxsize=2)
def _dictionary(max_distance: int) -> Any:
    """The English frequency dictionary (a `symspellpy.SymSpell`), loaded once per process."""
    symspellpy = require("symspellpy", "extract")
    from importlib.resources import files

    symspell = symspellpy.SymSpell(max_dictionary_edit_distance=max_distance)
    path = files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    if not symspell.load_dictionary(str(path), term_index=0, count_index=1):
        raise FileNotFoundError(f"symspellpy dictionary {path} is missing: reinstall symspellpy")
    return symspell
