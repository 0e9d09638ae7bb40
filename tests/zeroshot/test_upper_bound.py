"""The supervised upper bound (Dogan et al.): the attention model trained with the test labels
seen, cross-fitted over two halves of the test trailers."""

from __future__ import annotations

import numpy as np
import pytest

from cinefeat.fuse.zeroshot.folds import greedy_label_folds, zero_shot_split
from cinefeat.fuse.zeroshot.model import ZeroShotConfig
from cinefeat.fuse.zeroshot.report import compare_zero_shot, format_report
from cinefeat.fuse.zeroshot.synthetic import SyntheticSpec, make_synthetic
from cinefeat.fuse.zeroshot.train import TrainConfig
from cinefeat.fuse.zeroshot.upper_bound import UPPER_BOUND, seen_test_splits


@pytest.fixture(scope="module")
def problem():
    data, embeddings = make_synthetic(SyntheticSpec(n_trailers=600, seed=3))
    targets = data.labels.numpy()
    folds = greedy_label_folds(targets, data.label_names)
    return data, embeddings, zero_shot_split(targets, data.label_names, folds, rotation=0)


def test_seen_test_splits_train_on_the_test_labels_and_score_unseen_trailers(problem) -> None:
    _, _, split = problem
    first, second = seen_test_splits(split, seed=0)
    test = set(split.trailers["test"].tolist())
    for seen in (first, second):
        assert set(split.labels["test"]) <= set(seen.labels["train"])
        assert seen.labels["test"] == split.labels["test"]
        assert np.array_equal(seen.trailers["val"], split.trailers["val"])
        trained_on = set(seen.trailers["train"].tolist())
        scored = set(seen.trailers["test"].tolist())
        assert not trained_on & scored  # a scored trailer was never trained on
        assert set(split.trailers["train"].tolist()) <= trained_on
        assert trained_on & test  # ... but test labels (on other test trailers) were
    halves = [set(first.trailers["test"].tolist()), set(second.trailers["test"].tolist())]
    assert halves[0] | halves[1] == test and not halves[0] & halves[1]


def test_upper_bound_row_scores_every_test_trailer_above_zero_shot(problem) -> None:
    data, embeddings, split = problem
    config = ZeroShotConfig(label_dim=embeddings.dim, joint_dim=32)
    train = TrainConfig(epochs=15, batch_size=16, device="cpu")
    report = compare_zero_shot(
        data, split, embeddings, config, train, gammas=(0.5,), upper_bound=True
    )
    print("\n" + format_report(report))
    bound, zero_shot = report["methods"][UPPER_BOUND], report["methods"]["attention gamma=0.5"]
    assert sorted(bound["per_label_ap"]) == sorted(split.labels["test"])
    assert bound["mean_ap"] > zero_shot["mean_ap"]
    assert f"| {UPPER_BOUND} |" in format_report(report)


def test_upper_bound_needs_two_test_trailers(problem) -> None:
    _, _, split = problem
    tiny = type(split)(split.labels, {**split.trailers, "test": split.trailers["test"][:1]}, 0)
    with pytest.raises(ValueError, match="at least 2"):
        seen_test_splits(tiny)
