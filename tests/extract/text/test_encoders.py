"""Text encoders: token rows from the real MiniLM, and DistilBERT's loading path from the cache.

DistilBERT cannot be downloaded here, so a randomly initialised DistilBERT with the published
width (768) is saved with `save_pretrained` (the published file format: config.json,
model.safetensors, tokenizer files) into a temporary cache and loaded by the production code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract.pretrained import WeightsNotFound
from cinefeat.extract.text.encoders import TEXT_ENCODERS
from cinefeat.extract.text.lines import TextLine
from cinefeat.extract.text.rows import lines_from_texts, rows_from_lines


def test_minilm_gives_one_384d_row_per_wordpiece(minilm) -> None:
    encoded = minilm.encode(["An unlucky bird", "A bunny"])
    assert encoded.tokens == ["an", "un", "##lu", "##cky", "bird", "a", "bunny"]
    assert encoded.values.shape == (7, 384)
    assert encoded.line_of.tolist() == [0, 0, 0, 0, 0, 1, 1]
    # contextual: the same word in different lines gets different vectors
    again = minilm.encode(["A bird", "An unlucky bird"])
    assert not np.allclose(again.values[1], encoded.values[4])
    assert minilm.model_info()["text_model"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_rows_carry_their_line_span_and_the_text(minilm) -> None:
    lines = [
        TextLine("hello world", 2.0, 5.0, 0.9, raw="he11o world"),
        TextLine("bird", 7.0, 8.0, 1.0, ((0.0, 0.0), (9.0, 0.0), (9.0, 4.0), (0.0, 4.0))),
    ]
    rows = rows_from_lines(lines, minilm)
    assert rows.values.shape == (3, 384)
    assert rows.spans.tolist() == [[2.0, 5.0], [2.0, 5.0], [7.0, 8.0]]
    assert [(t["token"], t["line"], t["text"], t["raw"]) for t in rows.texts] == [
        ("hello", 0, "hello world", "he11o world"),
        ("world", 0, "hello world", "he11o world"),
        ("bird", 1, "bird", None),
    ]
    assert lines_from_texts(json.loads(json.dumps(rows.texts))) == lines  # survives the store
    empty = rows_from_lines([], minilm)
    assert empty.values.shape == (0, 384) and empty.texts == [] and lines_from_texts([]) == []


def save_random_distilbert(directory: Path, dim: int = 768) -> None:
    from transformers import BertTokenizerFast, DistilBertConfig, DistilBertModel

    directory.mkdir(parents=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "revenge", "is", "coming", "bird"]
    vocab = {word: index for index, word in enumerate(words)}
    BertTokenizerFast(vocab=vocab).save_pretrained(directory)
    (directory / "vocab.txt").write_text("\n".join(words) + "\n")  # the hub repo has it too
    config = DistilBertConfig(
        vocab_size=len(words),
        dim=dim,
        n_layers=1,
        n_heads=12,
        hidden_dim=64,
        max_position_embeddings=64,
    )
    DistilBertModel(config).save_pretrained(directory, safe_serialization=True)


def test_distilbert_loads_the_published_format_from_the_cache(tmp_cache: Path) -> None:
    save_random_distilbert(tmp_cache / "distilbert-base-uncased")
    encoder = TEXT_ENCODERS.create("distilbert")
    encoded = encoder.encode(["Revenge is coming", "bird"])
    assert encoded.values.shape == (4, 768)
    assert encoded.tokens == ["revenge", "is", "coming", "bird"]
    assert len(encoder.model_info()["text_weights_sha256"]) == 64


def test_distilbert_of_the_wrong_width_is_refused(tmp_cache: Path) -> None:
    save_random_distilbert(tmp_cache / "distilbert-base-uncased", dim=384)
    with pytest.raises(ValueError, match="delete it and download again"):
        TEXT_ENCODERS.create("distilbert")


def test_missing_distilbert_names_the_download_command(tmp_cache: Path) -> None:
    with pytest.raises(WeightsNotFound, match="cinefeat models download distilbert-base-uncased"):
        TEXT_ENCODERS.create("distilbert")
