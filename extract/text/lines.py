"""Recognised text lines with time spans: reading order and merging of repeated lines.

Why: OCR runs on frames sampled every second or so, and a title card stays on screen for several
seconds, so the same line is read in several consecutive frames. Encoding each copy would multiply
its tokens (and its weight in a temporal average) by how long it stayed on screen, so consecutive
reads of the same line are merged into one line whose span covers all of them. ASR segments are
lines too (one per segment), which lets both extractors share the rest of the text pipeline.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from difflib import SequenceMatcher
from typing import Any

import numpy as np

SAME_LINE_RATIO = 0.85
"""Two reads are the same line when their normalised texts are this similar (difflib ratio):
high enough that "Made with" and "MoviePy" stay apart, low enough that one misread character
("Foundatior" vs "Foundation") does not split a card in two."""


@dataclass(frozen=True)
class TextLine:
    """One line of text and the time span it was seen or heard in.

    `box` is the OCR quadrilateral (4 x (x, y) pixels) or None for speech; `raw` is the text as the
    recogniser returned it, before spelling and language replacement.
    """

    text: str
    start_s: float
    end_s: float
    confidence: float
    box: tuple[tuple[float, float], ...] | None = None
    raw: str | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["box"] = [list(point) for point in self.box] if self.box is not None else None
        return out


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Sort OCR lines of one frame top to bottom, then left to right within a row.

    Lines whose vertical centres differ by less than half the smaller line height are one row, so
    two words of a caption set side by side read left to right even when their boxes are not
    perfectly aligned.
    """
    boxed = [line for line in lines if line.box is not None]
    if len(boxed) != len(lines):
        return list(lines)
    geometry = []
    for line in boxed:
        points = np.asarray(line.box, dtype=np.float64)
        top, bottom = points[:, 1].min(), points[:, 1].max()
        geometry.append(((top + bottom) / 2, max(bottom - top, 1.0), points[:, 0].min(), line))
    geometry.sort(key=lambda g: g[0])
    rows: list[list[tuple[float, float, float, TextLine]]] = []
    for item in geometry:
        if rows:
            centre, height = rows[-1][0][0], rows[-1][0][1]
            if abs(item[0] - centre) < min(height, item[1]) / 2:
                rows[-1].append(item)
                continue
        rows.append([item])
    return [item[3] for row in rows for item in sorted(row, key=lambda g: g[2])]


def normalise(text: str) -> str:
    """Lower case, letters and digits only: the key under which two reads count as one line."""
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def same_line(a: str, b: str) -> bool:
    key_a, key_b = normalise(a), normalise(b)
    if not key_a or not key_b:
        return key_a == key_b
    return key_a == key_b or SequenceMatcher(None, key_a, key_b).ratio() >= SAME_LINE_RATIO


def merge_repeated(frames: list[list[TextLine]]) -> list[TextLine]:
    """Merge reads of the same line in consecutive frames (time order) into one line.

    The merged line spans from the first read's start to the last read's end and keeps the text
    of its most confident read. A line that disappears for one sampled frame and comes back is a
    new line (the card was shown twice). Output is ordered by start time, then reading order.
    """
    finished: list[tuple[int, TextLine]] = []
    open_lines: list[tuple[int, TextLine]] = []
    order = 0
    for lines in frames:
        still_open: list[tuple[int, TextLine]] = []
        unmatched = list(open_lines)
        for line in lines:
            match = next((o for o in unmatched if same_line(o[1].text, line.text)), None)
            if match is None:
                still_open.append((order, line))
                order += 1
                continue
            unmatched.remove(match)
            best = line if line.confidence > match[1].confidence else match[1]
            merged = replace(
                best,
                start_s=min(match[1].start_s, line.start_s),
                end_s=max(match[1].end_s, line.end_s),
            )
            still_open.append((match[0], merged))
        finished.extend(unmatched)
        open_lines = still_open
    finished.extend(open_lines)
    finished.sort(key=lambda item: (item[1].start_s, item[0]))
    return [line for _, line in finished]
