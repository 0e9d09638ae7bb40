"""The must-have check: on unseen labels whose evidence sits in a few time steps, temporal
attention (gamma=0.5) beats uniform aggregation (gamma=0), and both beat the zero rule."""

from __future__ import annotations

import pytest

from cinefeat.fuse.zeroshot.folds import greedy_label_folds, zero_shot_split
from cinefeat.fuse.zeroshot.model import ZeroShotConfig
from cinefeat.fuse.zeroshot.report import compare_zero_shot, format_report, save_report
from cinefeat.fuse.zeroshot.synthetic import make_synthetic
from cinefeat.fuse.zeroshot.train import TrainConfig


@pytest.fixture(scope="module")
def report() -> dict:
    data, embeddings = make_synthetic()
    folds = greedy_label_folds(data.labels.numpy(), data.label_names)
    split = zero_shot_split(data.labels.numpy(), data.label_names, folds, rotation=0)
    config = ZeroShotConfig(label_dim=embeddings.dim, joint_dim=32)
    return compare_zero_shot(
        data, split, embeddings, config, TrainConfig(epochs=30, batch_size=16, device="cpu")
    )


def test_attention_beats_uniform_on_unseen_labels(report: dict) -> None:
    methods = report["methods"]
    attention, uniform, zero = (
        methods["attention gamma=0.5"],
        methods["uniform gamma=0"],
        methods["zero rule"],
    )
    print("\n" + format_report(report))  # the report, visible with pytest -s
    assert attention["mean_ap"] > uniform["mean_ap"] + 0.1
    assert attention["micro_f1"] > uniform["micro_f1"]
    assert attention["macro_f1"] > uniform["macro_f1"]
    assert uniform["mean_ap"] > zero["mean_ap"]
    assert attention["micro_f1"] > zero["micro_f1"]


def test_report_covers_only_unseen_labels(report: dict, tmp_path) -> None:
    labels = report["labels"]
    assert not set(labels["test"]) & (set(labels["train"]) | set(labels["val"]))
    for row in report["methods"].values():
        assert sorted(row["per_label_ap"]) == sorted(labels["test"])
    out = save_report(report, tmp_path)
    text = (out / "report.md").read_text()
    assert "| attention gamma=0.5 |" in text and "| zero rule |" in text
    assert (out / "report.json").stat().st_size > 0
