"""Splits: MovieNet's sorted-id sizes, stratification quality, split files, filters."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cinefeat.fuse.splits import (
    SplitError,
    duration_inliers,
    read_split_file,
    sorted_id_split,
    stratified_folds,
    stratified_split,
    top_labels,
)


def test_sorted_id_split_reproduces_movienet_sizes() -> None:
    ids = [f"{i:06d}" for i in range(26412)][::-1]
    split = sorted_id_split(ids)
    assert [len(split[s]) for s in ("train", "val", "test")] == [18488, 2642, 5282]
    assert split["train"][0] == "000000" and split["test"][-1] == "026411"


def test_stratified_split_keeps_rare_label_proportions() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((1000, 5)) < [0.5, 0.2, 0.1, 0.05, 0.03]).astype(int)
    ids = [f"id{i:04d}" for i in range(1000)]
    splits = [stratified_split(ids, labels, seed) for seed in (0, 1, 2)]
    index = {trailer: i for i, trailer in enumerate(ids)}
    for split in splits:
        assert sorted(t for ids in split.values() for t in ids) == ids
        assert abs(len(split["test"]) - 200) <= 2 and abs(len(split["val"]) - 100) <= 2
        for subset in ("train", "val", "test"):
            rate = labels[[index[t] for t in split[subset]]].mean(axis=0)
            np.testing.assert_allclose(rate, labels.mean(axis=0), atol=0.012)
    assert splits[0]["test"] != splits[1]["test"]


def test_stratified_splits_keep_ids_and_label_rows_together() -> None:
    """Unsorted ids: each id keeps its own label row, and the split does not depend on the order."""
    rng = np.random.default_rng(2)
    labels = (rng.random((300, 4)) < [0.4, 0.2, 0.1, 0.05]).astype(int)
    ids = [f"id{i:03d}" for i in range(300)]
    shuffled = rng.permutation(300)
    unsorted_ids, unsorted_labels = [ids[i] for i in shuffled], labels[shuffled]
    assert stratified_split(unsorted_ids, unsorted_labels, 0) == stratified_split(ids, labels, 0)
    folds = stratified_folds(unsorted_ids, unsorted_labels, folds=3, seed=0)
    assert folds == stratified_folds(ids, labels, folds=3, seed=0)
    with pytest.raises(SplitError, match="label rows"):
        stratified_split(ids, labels[:-1], 0)


def test_folds_partition_ids() -> None:
    rng = np.random.default_rng(1)
    labels = (rng.random((90, 3)) < 0.3).astype(int)
    ids = [f"x{i}" for i in range(90)]
    folds = stratified_folds(ids, labels, folds=3, seed=0)
    assert sorted(t for f in folds for t in f["test"]) == sorted(ids)
    for fold in folds:
        assert not set(fold["train"]) & set(fold["test"])
        assert not set(fold["val"]) & set(fold["test"])


def test_split_file_json_and_csv(tmp_path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"train": ["a", "b"], "val": ["c"], "test": []}))
    assert read_split_file(tmp_path / "s.json")["train"] == ["a", "b"]
    (tmp_path / "s.csv").write_text("id,subset\na,train\nb,test\n")
    assert read_split_file(tmp_path / "s.csv") == {"train": ["a"], "val": [], "test": ["b"]}
    (tmp_path / "bad.csv").write_text("a,train\na,test\n")
    with pytest.raises(SplitError, match="both"):
        read_split_file(tmp_path / "bad.csv")


def test_top_labels_and_duration_whisker() -> None:
    labels = np.array([[1, 0, 1], [1, 1, 0], [1, 0, 1]])
    assert top_labels(["A", "B", "C"], labels, 2) == [0, 2]
    durations = {f"t{i}": float(d) for i, d in enumerate([100, 110, 120, 130, 140, 500, 1])}
    kept, (low, high) = duration_inliers(durations)
    assert "t5" not in kept and "t6" not in kept and len(kept) == 5
    assert (low, high) == (pytest.approx(60.0), pytest.approx(180.0))  # Q1 105, Q3 135


def test_sorted_id_split_rounds_like_the_released_code() -> None:
    """Sulun et al. cut at `int(round(N * 0.7))` and `-int(round(N * 0.2))`
    (serkansulun/movie-genre-classification, classification/src/dataset.py); flooring differs
    for most sizes other than MovieNet's."""
    ids = [f"{i:05d}" for i in range(1003)]
    split = sorted_id_split(ids)
    assert [len(split[s]) for s in ("train", "val", "test")] == [702, 100, 201]
    for n in (10, 11, 17, 999, 26412):
        sizes = [len(v) for v in sorted_id_split([str(i) for i in range(n)]).values()]
        assert sizes[0] == round(n * 0.7) and sizes[2] == round(n * 0.2)
        assert sum(sizes) == n


def test_top_labels_counts_uint8_store_labels_without_wrapping() -> None:
    """Store labels are uint8: the negated column sum wrapped and put a label with 0 positives
    first (A=3, B=3, C=2, Z=0 gave A, Z)."""
    labels = np.zeros((8, 4), dtype=np.uint8)
    labels[:3, 0] = labels[3:6, 1] = labels[6:8, 2] = 1
    assert top_labels(["A", "B", "C", "Z"], labels, 2) == [0, 1]
    assert top_labels(["A", "B", "C", "Z"], labels, 4) == [0, 1, 2]  # Z has no positive
