"""Multi-label metrics, each mapped to the name the trailer papers use (see docs/training.md).

Implemented here in numpy (no scikit-learn at run time) and tested against scikit-learn. Labels
with no positive example in the evaluated set have no defined AP: they are *excluded* from macro
AP and listed in `excluded_labels`, never silently counted as 0.

Scores must be finite: NaN or infinite scores (a head with NaN weights, an input that overflowed)
are refused with scikit-learn's own words ("Input contains NaN."), because every ranking metric
would otherwise return a number that looks fine (all-NaN scores gave ranking loss 0.0000).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cinefeat.store.errors import CinefeatError


class MetricInputError(CinefeatError, ValueError):
    """Scores and labels that cannot be evaluated together; the message names the fix."""


def require_finite(y_score: np.ndarray, what: str = "scores") -> np.ndarray:
    """`y_score` as float64, or MetricInputError worded as scikit-learn's `check_array` words it
    (sklearn/utils/validation.py, `_assert_all_finite`: "Input contains NaN." / "Input contains
    infinity or a value too large for dtype('float64')."), with where the first bad value is."""
    y_score = np.asarray(y_score, dtype=np.float64)
    finite = np.isfinite(y_score)
    if finite.all():
        return y_score
    bad = np.argwhere(~finite)
    first = tuple(int(i) for i in bad[0])
    if np.isnan(y_score).any():
        text = "Input contains NaN."
    else:
        text = "Input contains infinity or a value too large for dtype('float64')."
    raise MetricInputError(
        f"{text} ({len(bad)} of {y_score.size} {what} are not finite, the first at index "
        f"{first}): the head or its inputs produced non-finite values; check the features for "
        "NaN/inf and retrain"
    )


def _check(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = require_finite(y_true, "labels")
    y_score = require_finite(y_score)
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise MetricInputError(
            f"labels {y_true.shape} and scores {y_score.shape} must be the same (N, C) shape"
        )
    return (y_true > 0).astype(np.int64), y_score


def precision_recall_points(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision and recall at every distinct score threshold, highest threshold first.

    Tied scores form one threshold (as in scikit-learn), so AP does not depend on the order of ties.
    """
    order = np.argsort(-y_score, kind="mergesort")
    scores, truth = y_score[order], y_true[order]
    last_of_tie = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    true_positives = np.cumsum(truth)[last_of_tie]
    predicted = last_of_tie + 1
    positives = truth.sum()
    precision = true_positives / predicted
    recall = true_positives / positives if positives else np.zeros_like(precision, dtype=float)
    return precision, recall, scores[last_of_tie]


def average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Step-wise AP = sum_k (R_k - R_{k-1}) P_k (as scikit-learn); NaN without a positive."""
    y_score = require_finite(y_score)
    if y_true.sum() == 0:
        return float("nan")
    precision, recall, _ = precision_recall_points(y_true, y_score)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def trapezoidal_pr_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the PR curve by the trapezoid rule, the variant DIViTA's code computes.

    DIViTA's `pre_rec_auc` is `auc(recall, precision)` over scikit-learn's
    `precision_recall_curve` (richardtml/DIViTA, train.py), which includes the end point
    (recall 0, precision 1). It is neither an upper nor a lower bound of step-wise AP: linear
    interpolation between PR points can lie above or below the steps (y = [0, 1], s = [0.9, 0.1]
    gives AP 0.5 and trapezoid 0.25).
    """
    y_score = require_finite(y_score)
    if y_true.sum() == 0:
        return float("nan")
    precision, recall, _ = precision_recall_points(y_true, y_score)
    recall = np.r_[0.0, recall]
    precision = np.r_[1.0, precision]
    return float(np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2))


def per_label_ap(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    y_true, y_score = _check(y_true, y_score)
    return np.array(
        [average_precision(y_true[:, c], y_score[:, c]) for c in range(y_true.shape[1])]
    )


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(
        numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0
    )


def threshold_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Precision/recall/F1 of hard predictions: macro, micro, weighted (zero_division = 0)."""
    tp = (y_true & y_pred).sum(axis=0).astype(float)
    fp = ((1 - y_true) & y_pred).sum(axis=0).astype(float)
    fn = (y_true & (1 - y_pred)).sum(axis=0).astype(float)
    precision, recall = _safe_divide(tp, tp + fp), _safe_divide(tp, tp + fn)
    f1 = _safe_divide(2 * tp, 2 * tp + fp + fn)
    support = y_true.sum(axis=0).astype(float)
    weights = support / support.sum() if support.sum() else np.zeros_like(support)
    micro_p = _safe_divide(tp.sum(keepdims=True), (tp + fp).sum(keepdims=True))[0]
    micro_r = _safe_divide(tp.sum(keepdims=True), (tp + fn).sum(keepdims=True))[0]
    micro_f1 = _safe_divide(2 * tp.sum(keepdims=True), (2 * tp + fp + fn).sum(keepdims=True))[0]
    return {
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
        "precision_micro": float(micro_p),
        "recall_micro": float(micro_r),
        "f1_micro": float(micro_f1),
        "precision_weighted": float((precision * weights).sum()),
        "recall_weighted": float((recall * weights).sum()),
        "f1_weighted": float((f1 * weights).sum()),
    }


def ranking_loss(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Fraction of (positive, negative) label pairs ordered wrongly (ties count as wrong).

    Samples with no positive or no negative label count as 0, as in scikit-learn.
    """
    y_true, y_score = _check(y_true, y_score)
    positive = y_true.astype(bool)
    wrong = (
        (y_score[:, None, :] >= y_score[:, :, None]) & positive[:, :, None] & ~positive[:, None, :]
    )
    pairs = positive.sum(1) * (~positive).sum(1)
    return float(np.mean(_safe_divide(wrong.sum(axis=(1, 2)).astype(float), pairs.astype(float))))


@dataclass
class Evaluation:
    """All metrics of one evaluated split; `summary` is the flat dict that reports and JSON use."""

    summary: dict[str, float]
    per_label_ap: dict[str, float]
    excluded_labels: list[str]
    support: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "per_label_ap": self.per_label_ap,
            "excluded_labels": self.excluded_labels,
            "support": self.support,
            **self.extra,
        }


def macro_ap(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Macro AP over labels with at least one positive (the early-stopping criterion)."""
    values = per_label_ap(y_true, y_score)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def evaluate(
    y_true: np.ndarray, y_score: np.ndarray, label_names: list[str], threshold: float = 0.5
) -> Evaluation:
    """Every metric of the issue for probabilities `y_score` (N, C) against multi-hot `y_true`."""
    y_true, y_score = _check(y_true, y_score)
    if len(label_names) != y_true.shape[1]:
        raise MetricInputError(f"{len(label_names)} label names for {y_true.shape[1]} columns")
    ap = per_label_ap(y_true, y_score)
    defined = ~np.isnan(ap)
    support = y_true.sum(axis=0)
    trapezoid = np.array(
        [trapezoidal_pr_auc(y_true[:, c], y_score[:, c]) for c in range(y_true.shape[1])]
    )
    with_positive = y_true.sum(axis=1) > 0
    rows = np.nonzero(with_positive)[0]
    sample_ap = [average_precision(y_true[i], y_score[i]) for i in rows]
    sample_trapezoid = [trapezoidal_pr_auc(y_true[i], y_score[i]) for i in rows]
    weights = support[defined] / support[defined].sum() if defined.any() else np.array([])
    summary = {
        "ap_macro": float(ap[defined].mean()) if defined.any() else float("nan"),
        "ap_micro": average_precision(y_true.ravel(), y_score.ravel()),
        "ap_weighted": float((ap[defined] * weights).sum()) if defined.any() else float("nan"),
        "ap_samples": float(np.mean(sample_ap)) if sample_ap else float("nan"),
        "pr_auc_trapezoid_macro": float(np.nanmean(trapezoid)) if defined.any() else float("nan"),
        "pr_auc_trapezoid_micro": trapezoidal_pr_auc(y_true.ravel(), y_score.ravel()),
        "pr_auc_trapezoid_weighted": (
            float((trapezoid[defined] * weights).sum()) if defined.any() else float("nan")
        ),
        "pr_auc_trapezoid_samples": (
            float(np.mean(sample_trapezoid)) if sample_trapezoid else float("nan")
        ),
        "ranking_loss": ranking_loss(y_true, y_score),
        **threshold_scores(y_true, (y_score >= threshold).astype(np.int64)),
    }
    return Evaluation(
        summary=summary,
        per_label_ap={n: float(v) for n, v in zip(label_names, ap, strict=True) if not np.isnan(v)},
        excluded_labels=[n for n, ok in zip(label_names, defined, strict=True) if not ok],
        support={n: int(s) for n, s in zip(label_names, support, strict=True)},
        extra={"samples_without_positive": int((~with_positive).sum()), "count": len(y_true)},
    )


def mean_and_std(runs: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """Mean and (population) std of each metric over several splits/seeds."""
    keys = sorted(set().union(*runs)) if runs else []
    return {
        key: (
            float(np.nanmean([r.get(key, np.nan) for r in runs])),
            float(np.nanstd([r.get(key, np.nan) for r in runs])),
        )
        for key in keys
    }
