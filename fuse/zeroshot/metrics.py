"""Multi-label scores of a zero-shot run: micro/macro F1 at a threshold, per-label AP, zero rule.

Kept free of torch so reports can be recomputed from saved score arrays. AP is fuse's own
(`cinefeat.fuse.metrics.per_label_ap`, tested against scikit-learn); this module only names its
columns and adds what zero-shot evaluation needs: the threshold M and the zero rule.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from cinefeat.fuse import metrics


def f1_scores(targets: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    targets, predicted = np.asarray(targets) > 0.5, np.asarray(predicted) > 0.5
    return {
        "micro_f1": float(f1_score(targets, predicted, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(targets, predicted, average="macro", zero_division=0)),
    }


def ap_by_label(targets: np.ndarray, scores: np.ndarray, names: list[str]) -> dict[str, float]:
    """{label: average precision} (`cinefeat.fuse.metrics.per_label_ap` with names); NaN for a
    label without a positive trailer."""
    values = metrics.per_label_ap(np.asarray(targets) > 0.5, scores)
    return {name: float(value) for name, value in zip(names, values, strict=True)}


def mean_ap(targets: np.ndarray, scores: np.ndarray) -> float:
    """Mean AP over the labels that have a positive (NaN when none has)."""
    values = metrics.per_label_ap(np.asarray(targets) > 0.5, scores)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def best_threshold(targets: np.ndarray, scores: np.ndarray) -> float:
    """The M maximising micro F1 of {c : p_c > M} on validation labels.

    Candidates are midpoints between consecutive distinct scores (plus one below all), so the
    chosen M does not sit on a validation score and transfers to nearby test scores.
    """
    values = np.unique(np.asarray(scores, dtype=np.float64).ravel())
    if len(values) > 512:
        values = np.quantile(values, np.linspace(0.0, 1.0, 513))
    candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2.0])
    truth = np.asarray(targets) > 0.5
    best, best_f1 = float(candidates[0]), -1.0
    for threshold in candidates:
        f1 = f1_score(truth, scores > threshold, average="micro", zero_division=0)
        if f1 > best_f1:
            best, best_f1 = float(threshold), float(f1)
    return best


def evaluate_scores(
    targets: np.ndarray, scores: np.ndarray, names: list[str], threshold: float
) -> dict:
    """micro/macro F1 of {c : p_c > threshold}, per-label AP and their mean."""
    aps = ap_by_label(targets, scores, names)
    finite = [v for v in aps.values() if not np.isnan(v)]
    return {
        **f1_scores(targets, scores > threshold),
        "mean_ap": float(np.mean(finite)) if finite else float("nan"),
        "per_label_ap": aps,
        "threshold": float(threshold),
    }


def zero_rule(targets: np.ndarray, names: list[str], every_label: bool = False) -> dict:
    """The zero rule of Dogan et al.: the most frequent label predicted for every trailer.

    `every_label=True` is the other constant (all labels for every trailer: a higher micro F1 on
    dense label sets, but not the paper's baseline). The scores are the label frequencies, so the
    AP of each label is its prevalence either way.
    """
    targets = np.asarray(targets) > 0.5
    if every_label or targets.shape[1] == 0:
        constant = np.ones(targets.shape)
    else:
        constant = np.zeros(targets.shape)
        constant[:, int(np.argmax(targets.sum(axis=0)))] = 1.0
    aps = {name: float(targets[:, c].mean()) for c, name in enumerate(names)}
    return {
        **f1_scores(targets, constant),
        "mean_ap": float(np.mean(list(aps.values()))) if aps else float("nan"),
        "per_label_ap": aps,
        "threshold": float("nan"),
    }
