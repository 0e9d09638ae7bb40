"""Spelling repair: the digit/letter confusion map and symspellpy lookup (known answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinefeat.extract.extractors.ocr import OcrConfig
from cinefeat.extract.pretrained import WeightsNotFound
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
    with pytest.raises(UnknownBackend, match="choose from: bart, none, symspell"):
        SPELLERS.create("neural")


def save_random_bart(directory: Path) -> None:
    """A tiny random BART with a byte-level BPE tokenizer, saved as the hub repository holds it
    (safetensors, tokenizer.json, merges.txt, ...)."""
    import json

    import torch
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast

    directory.mkdir(parents=True)
    symbols = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "\u0120", *"abcdefghijklmnopqrstuvwxyz"]
    symbols += list("BFR")
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(symbols)}))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = BartTokenizerFast(
        vocab_file=str(directory / "vocab.json"), merges_file=str(directory / "merges.txt")
    )
    tokenizer.save_pretrained(directory)
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    (directory / "special_tokens_map.json").write_text(json.dumps(special))  # the hub repo has it
    config = BartConfig(
        vocab_size=len(symbols),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BartForConditionalGeneration(config).save_pretrained(directory, safe_serialization=True)


def test_bart_speller_loads_the_published_format_from_the_cache(tmp_cache: Path) -> None:
    save_random_bart(tmp_cache / "spelling-correction-english-base")
    speller = SPELLERS.create("bart")
    assert speller.prepare("The B1ender F0undation") == "The Blender Foundation"  # map first
    first = speller.correct("The B1ender F0undation")
    assert isinstance(first, str) and first == speller.correct("The B1ender F0undation")
    assert speller.correct("  ") == "  "
    assert len(speller.sha256) == 64


def test_missing_bart_speller_names_the_download_command(tmp_cache: Path) -> None:
    with pytest.raises(
        WeightsNotFound, match="cinefeat models download spelling-correction-english-base"
    ):
        SPELLERS.create("bart")
    assert OcrConfig(spelling="bart").spelling == "bart"  # an OCR option by registry name
