"""The metrics module against scikit-learn, on random scores with ties and rare labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from cinefeat.fuse.metrics import (
    average_precision,
    evaluate,
    macro_ap,
    mean_and_std,
    ranking_loss,
    trapezoidal_pr_auc,
)

NAMES = [f"L{i}" for i in range(6)]


def sample(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = (rng.random((80, 6)) < [0.5, 0.3, 0.2, 0.1, 0.05, 0.4]).astype(int)
    y_true[:, 4] = 0
    y_true[:3, 4] = 1  # a rare label
    scores = np.round(rng.random((80, 6)) * 0.6 + 0.4 * y_true, 1)  # rounding makes ties
    return y_true, scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_metric_matches_scikit_learn(seed: int) -> None:
    y_true, scores = sample(seed)
    predicted = (scores >= 0.5).astype(int)
    got = evaluate(y_true, scores, NAMES).summary
    expected = {
        "ap_macro": sk.average_precision_score(y_true, scores, average="macro"),
        "ap_micro": sk.average_precision_score(y_true, scores, average="micro"),
        "ap_weighted": sk.average_precision_score(y_true, scores, average="weighted"),
        # samples without any positive label have no AP: excluded (scikit-learn counts them as 0)
        "ap_samples": sk.average_precision_score(
            y_true[y_true.sum(1) > 0], scores[y_true.sum(1) > 0], average="samples"
        ),
        "ranking_loss": sk.label_ranking_loss(y_true, scores),
    }
    for average in ("macro", "micro", "weighted"):
        expected[f"precision_{average}"] = sk.precision_score(
            y_true, predicted, average=average, zero_division=0
        )
        expected[f"recall_{average}"] = sk.recall_score(
            y_true, predicted, average=average, zero_division=0
        )
        expected[f"f1_{average}"] = sk.f1_score(y_true, predicted, average=average, zero_division=0)
    trapezoids = []
    for c in range(6):
        precision, recall, _ = sk.precision_recall_curve(y_true[:, c], scores[:, c])
        trapezoids.append(sk.auc(recall, precision))
    expected["pr_auc_trapezoid_macro"] = np.mean(trapezoids)
    precision, recall, _ = sk.precision_recall_curve(y_true.ravel(), scores.ravel())
    expected["pr_auc_trapezoid_micro"] = sk.auc(recall, precision)
    # DIViTA's wAP and sAP (richardtml/DIViTA, train.py, compute_full_metrics): trapezoids
    # weighted by label support, and averaged over trailers (here: those with a positive)
    expected["pr_auc_trapezoid_weighted"] = np.average(trapezoids, weights=y_true.sum(0))
    rows = [i for i in range(len(y_true)) if y_true[i].sum() > 0]
    per_trailer = []
    for i in rows:
        precision, recall, _ = sk.precision_recall_curve(y_true[i], scores[i])
        per_trailer.append(sk.auc(recall, precision))
    expected["pr_auc_trapezoid_samples"] = np.mean(per_trailer)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_label_without_positive_is_excluded_and_reported() -> None:
    y_true, scores = sample(0)
    y_true[:, 2] = 0
    result = evaluate(y_true, scores, NAMES)
    assert result.excluded_labels == ["L2"]
    assert "L2" not in result.per_label_ap
    kept = [0, 1, 3, 4, 5]
    expected = sk.average_precision_score(y_true[:, kept], scores[:, kept], average="macro")
    assert result.summary["ap_macro"] == pytest.approx(expected)
    assert macro_ap(y_true, scores) == pytest.approx(expected)
    # counting the empty label as 0 would give a lower number: we do not
    assert result.summary["ap_macro"] > expected * 5 / 6


def test_known_answers() -> None:
    assert average_precision(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1])) == (
        pytest.approx((1 + 2 / 3) / 2)
    )
    assert np.isnan(average_precision(np.array([0, 0]), np.array([0.3, 0.2])))
    perfect = np.array([1, 1, 0]), np.array([0.9, 0.8, 0.1])
    assert trapezoidal_pr_auc(*perfect) == pytest.approx(1.0)
    assert ranking_loss(np.array([[1, 0]]), np.array([[0.2, 0.2]])) == 1.0  # a tie is an error


def test_mean_and_std() -> None:
    stats = mean_and_std([{"ap_macro": 0.5}, {"ap_macro": 0.7}])
    assert stats["ap_macro"] == (pytest.approx(0.6), pytest.approx(0.1))


def test_trapezoid_is_not_optimistic_against_ap() -> None:
    """The docs once said the trapezoid is optimistic; here it is half of AP (as scikit-learn)."""
    y, s = np.array([0, 1]), np.array([0.9, 0.1])
    precision, recall, _ = sk.precision_recall_curve(y, s)
    assert average_precision(y, s) == pytest.approx(0.5) == sk.average_precision_score(y, s)
    assert trapezoidal_pr_auc(y, s) == pytest.approx(0.25) == sk.auc(recall, precision)


def test_report_gives_divita_names_only_to_trapezoid_rows() -> None:
    from cinefeat.fuse.report import SUMMARY_ORDER

    for key, text in SUMMARY_ORDER:
        assert ("DIViTA" in text) == key.startswith("pr_auc_trapezoid"), (key, text)
    keys = {key for key, _ in SUMMARY_ORDER}
    assert keys <= set(evaluate(*sample(0), NAMES).summary)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_are_refused_as_scikit_learn_does(bad: float) -> None:
    """All-NaN probabilities gave ranking loss 0.0000 (perfect) and macro AP 0.058."""
    y_true, scores = sample(0)
    scores = scores.copy()
    scores[5, 2] = bad
    with pytest.raises(ValueError) as expected:
        sk.average_precision_score(y_true, scores)
    for metric in (
        lambda: evaluate(y_true, scores, NAMES),
        lambda: ranking_loss(y_true, scores),
        lambda: macro_ap(y_true, scores),
        lambda: average_precision(y_true[:, 2], scores[:, 2]),
        lambda: trapezoidal_pr_auc(y_true[:, 2], scores[:, 2]),
    ):
        with pytest.raises(ValueError) as got:
            metric()
        assert str(got.value).startswith(str(expected.value)), (got.value, expected.value)
        assert "(5, 2)" in str(got.value) or "index (5,)" in str(got.value)


def test_non_finite_labels_are_refused_too() -> None:
    y_true, scores = sample(1)
    y_true = y_true.astype(float)
    y_true[0, 0] = np.nan  # NaN > 0 is False: it was read silently as a negative
    with pytest.raises(ValueError, match=r"Input contains NaN\. \(1 of 480 labels"):
        evaluate(y_true, scores, NAMES)
