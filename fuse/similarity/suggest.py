"""Label suggestions for curators: labels a head believes in that the ground truth lacks.

Genre labels of trailer datasets are incomplete (a trailer tagged Drama is often also a Romance).
A trained head's confident "false positives" are the cheapest list of candidates for a curator to
check: every (trailer, label) with predicted probability >= 0.30 that is absent from the labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_THRESHOLD = 0.30


@dataclass(frozen=True)
class Suggestion:
    id: str
    label: str
    probability: float
    current_labels: tuple[str, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def suggest_labels(
    ids: Sequence[str],
    probabilities: np.ndarray,
    targets: np.ndarray,
    label_names: Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Suggestion]:
    """Suggestions sorted by decreasing probability (then id, label: a stable table)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(targets) > 0.5
    if probabilities.shape != truth.shape or probabilities.shape != (len(ids), len(label_names)):
        raise ValueError(
            f"probabilities {probabilities.shape} and targets {truth.shape} must both be "
            f"({len(ids)} trailers, {len(label_names)} labels)"
        )
    rows, columns = np.nonzero((probabilities >= threshold) & ~truth)
    found = [
        Suggestion(
            ids[r],
            label_names[c],
            float(probabilities[r, c]),
            tuple(label_names[j] for j in np.flatnonzero(truth[r])),
        )
        for r, c in zip(rows, columns, strict=True)
    ]
    return sorted(found, key=lambda s: (-s.probability, s.id, s.label))


def format_suggestions(suggestions: Sequence[Suggestion]) -> str:
    """A tab-separated table with a header: id, suggested label, probability, current labels."""
    lines = ["id\tsuggested\tprobability\tcurrent labels"]
    for s in suggestions:
        lines.append(f"{s.id}\t{s.label}\t{s.probability:.3f}\t{', '.join(s.current_labels)}")
    return "\n".join(lines)
