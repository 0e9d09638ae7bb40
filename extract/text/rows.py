"""The shared tail of the `ocr` and `asr` extractors: clean lines, encode tokens, build rows.

Why one place: both extractors turn timed lines into the same stored form, one row per token with
the span of its line, plus the lines themselves (`FeatureRows.texts`) so that a user can re-encode
the recognised text with another model without running OCR or ASR again. The store keeps one text
dict per row: the row's token and its line (`text` as encoded, `raw` as recognised, `language`,
`confidence`, `start_s`, `end_s`, `box`, and `line`, the line's index in the trailer).
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import Any

import numpy as np

from cinefeat.extract.text.encoders import TransformerTokenEncoder
from cinefeat.extract.text.language import EnglishOnly
from cinefeat.extract.text.lines import TextLine
from cinefeat.extract.text.spelling import Speller
from cinefeat.store.rows import FeatureRows


def clean_lines(
    lines: list[TextLine], speller: Speller | None, english: EnglishOnly | None
) -> list[TextLine]:
    """Spelling repair (if any), then the non-English replacement (if any); drops empty lines.

    A line's `language` set by the recogniser (speech language heard by Whisper) is trusted over
    text identification.
    """
    out = []
    for line in lines:
        text = speller.correct(line.text) if speller is not None else line.text
        language = line.language
        if english is not None:
            text, language = english.apply(text, heard=line.language)
        if text.strip():
            out.append(
                replace(
                    line,
                    text=text,
                    language=language,
                    raw=line.raw if line.raw is not None else line.text,
                )
            )
    return out


def rows_from_lines(lines: list[TextLine], encoder: TransformerTokenEncoder) -> FeatureRows:
    """One row per token (its line's span); zero lines give zero rows of the encoder's width.

    `texts` holds one dict per row, as the store requires: the row's `token`, the index of its
    `line` in this trailer, and that line's fields (`text`, `raw`, `confidence`, `language`,
    `start_s`, `end_s`, `box`). `lines_from_texts` turns them back into lines.
    """
    if not lines:
        return FeatureRows(np.zeros((0, encoder.dim), np.float32), np.zeros((0, 2)), [])
    encoded = encoder.encode([line.text for line in lines])
    spans = np.asarray(
        [[lines[i].start_s, lines[i].end_s] for i in encoded.line_of], dtype=np.float64
    ).reshape(-1, 2)
    line_dicts = [line.to_dict() for line in lines]
    texts = [
        {**line_dicts[int(index)], "line": int(index), "token": token}
        for index, token in zip(encoded.line_of, encoded.tokens, strict=True)
    ]
    return FeatureRows(encoded.values, spans, texts)


def lines_from_texts(texts: list[dict[str, Any]] | None) -> list[TextLine]:
    """The recognised lines of a trailer from its stored row texts (to re-encode them).

    A line whose text produced no token (not possible with the shipped encoders) is not stored.
    """
    fields = {f.name for f in dataclass_fields(TextLine)}
    lines: dict[int, TextLine] = {}
    for text in texts or []:
        if text["line"] not in lines:
            values = {k: v for k, v in text.items() if k in fields}
            if values.get("box") is not None:
                values["box"] = tuple(tuple(point) for point in values["box"])
            lines[text["line"]] = TextLine(**values)
    return [lines[index] for index in sorted(lines)]
