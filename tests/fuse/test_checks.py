"""Checks on real and controlled data: MULAN emotions, and the co-occurrence task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinefeat.fuse.heads import FeatureSpec, build_head
from cinefeat.fuse.metrics import macro_ap
from cinefeat.fuse.mulan import ArffError, compare_on_emotions, load_emotions, read_arff
from cinefeat.fuse.synthetic_tasks import cooccurrence_task
from cinefeat.fuse.train import TrainConfig, fit, predict_proba, seed_everything


def test_arff_parser_dense_and_sparse(tmp_path: Path) -> None:
    text = (
        "@relation r\n@attribute f1 numeric\n@attribute 'f 2' numeric\n"
        "@attribute yes {0,1}\n@data\n% comment\n0.5,-1,1\n{0 2.5,2 0}\n"
    )
    (tmp_path / "a.arff").write_text(text)
    table = read_arff(tmp_path / "a.arff", ["yes"])
    assert table.feature_names == ["f1", "f 2"]
    np.testing.assert_array_equal(table.features, [[0.5, -1.0], [2.5, 0.0]])
    np.testing.assert_array_equal(table.labels, [[1], [0]])
    with pytest.raises(ArffError, match="not attributes"):
        read_arff(tmp_path / "a.arff", ["no"])


@pytest.mark.needs_shared
def test_emotions_files_parse_as_published(shared_dir: Path) -> None:
    train, test = load_emotions(shared_dir / "data" / "mulan-emotions")
    assert train.features.shape == (391, 72) and test.features.shape == (202, 72)
    assert train.label_names[0] == "amazed-suprised" and train.labels.shape[1] == 6


@pytest.mark.slow
@pytest.mark.needs_shared
def test_mlp_head_matches_tuned_logistic_regression_on_emotions(shared_dir: Path) -> None:
    result = compare_on_emotions(shared_dir / "data" / "mulan-emotions", seed=0)
    assert result["logreg_ap_macro"] > 0.6  # the baseline itself is sane
    assert result["ratio"] >= 0.97, result


@pytest.mark.slow
def test_sequence_heads_beat_mlp_on_cooccurrence() -> None:
    train, val = cooccurrence_task(800, seed=0), cooccurrence_task(200, seed=1)
    test = cooccurrence_task(400, seed=2)
    configs = {
        "mlp": {"hidden": 64, "dropout": 0.1},
        "single-transformer": {"d_model": 32, "heads": 4, "dropout": 0.1},
        "multi-transformer": {"d_model": 32, "heads": 4, "dropout": 0.1},
    }
    scores = {}
    for name, config in configs.items():
        seed_everything(0)
        head = build_head(name, [FeatureSpec("frames", 8, 8)], ["p0", "p1", "p2", "p3"], config)
        fit(head, train, val, TrainConfig(epochs=10, lr=1e-3, pos_weight=1.0, device="cpu"))
        scores[name] = macro_ap(test.labels.numpy(), predict_proba(head, test))
    assert scores["mlp"] < 0.6, scores  # chance is the prevalence, about 0.47
    assert scores["single-transformer"] > scores["mlp"] + 0.25, scores
    assert scores["multi-transformer"] > scores["mlp"] + 0.25, scores
