"""Spelling repair: the digit/letter confusion map and symspellpy lookup (known answers)."""

from __future__ import annotations

import pytest

from cinefeat.extract.text.registry import UnknownBackend
from cinefeat.extract.text.spelling import SPELLERS, fix_confusions


@pytest.mark.parametrize(
    ("token", "fixed"),
    [
        ("B1ender", "Blender"),
        ("2O23", "2023"),
        ("W0RLD", "WORLD"),
        ("5ea", "Sea"),
        ("1ost", "lost"),
        ("F1LM", "FILM"),
        ("c0ming", "coming"),
        ("1999", "1999"),
        ("bird", "bird"),
    ],
)
def test_confusion_map(token: str, fixed: str) -> None:
    assert fix_confusions(token) == fixed


@pytest.fixture(scope="module")
def speller():
    return SPELLERS.create("symspell")


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("The Blender Foundatio", "The Blender Foundation"),  # last letter cut at the box edge
        ("Peach Project presnts", "Peach Project presents"),
        ("REVENGE IS COMMING", "REVENGE IS COMING"),
        ("A (slightly overweight) bunny", "A (slightly overweight) bunny"),
        ("Made with MoviePy", "Made with MoviePy"),  # camel-case names are left alone
        ("B1ender", "Blender"),
    ],
)
def test_symspell_repairs_ocr_damage_and_keeps_good_text(speller, text: str, fixed: str) -> None:
    assert speller.correct(text) == fixed


def test_unknown_speller_names_the_choices() -> None:
    with pytest.raises(UnknownBackend, match="choose from: none, symspell"):
        SPELLERS.create("neural")
