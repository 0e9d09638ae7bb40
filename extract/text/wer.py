"""Word error rate: how the ASR backends are compared (tests and `benchmarks/text_bench.py`).

Words are lower-cased runs of letters and apostrophes, so punctuation and case, which the
backends render differently, do not count as errors.
"""

from __future__ import annotations

import re


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance on words."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        raise ValueError("the reference transcript has no words")
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1] / len(ref)
