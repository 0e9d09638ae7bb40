"""The training loop: determinism, early stopping, resume, and a tiny store end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, SMALL_CONFIGS, make_store, tiny_data, tiny_specs

from cinefeat.fuse.data import PaddedFeatures, fit_normalization
from cinefeat.fuse.heads import Head, build_head
from cinefeat.fuse.predict import predict_arrays
from cinefeat.fuse.train import TrainConfig, TrainingError, fit, predict_proba

FAST = TrainConfig(epochs=4, lr=3e-3, batch_size=16, pos_weight=1.0, patience=10)


def run(seed: int, out_dir: Path | None = None, epochs: int = 4, resume: bool = False):
    torch.manual_seed(seed)
    head = build_head(
        "single-transformer", tiny_specs(), LABELS, SMALL_CONFIGS["single-transformer"]
    )
    train, val = tiny_data(48, seed=1), tiny_data(24, seed=2)
    head.normalization = fit_normalization(train)
    config = TrainConfig(**{**FAST.__dict__, "epochs": epochs, "seed": seed})
    result = fit(head, train, val, config, out_dir, resume=resume)
    return head, result, predict_proba(head, val)


def test_same_seed_same_metrics_on_cpu() -> None:
    _, first, p1 = run(seed=7)
    _, second, p2 = run(seed=7)
    _, _other, p3 = run(seed=8)
    assert [h["val_ap"] for h in first.history] == [h["val_ap"] for h in second.history]
    assert np.array_equal(p1, p2) and not np.array_equal(p1, p3)


def test_saved_folder_is_the_best_epoch(tmp_path: Path) -> None:
    _head, _result, scores = run(seed=0, out_dir=tmp_path)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["best_val_ap"] == pytest.approx(max(h["val_ap"] for h in history["history"]))
    loaded = Head.from_pretrained(tmp_path)
    assert np.array_equal(predict_proba(loaded, tiny_data(24, seed=2)), scores)


def test_resume_continues_to_the_same_result(tmp_path: Path) -> None:
    _, straight, p_straight = run(seed=3, out_dir=tmp_path / "a", epochs=4)
    run(seed=3, out_dir=tmp_path / "b", epochs=2)
    _, resumed, p_resumed = run(seed=3, out_dir=tmp_path / "b", epochs=4, resume=True)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2, 3]
    assert [h["val_ap"] for h in resumed.history] == pytest.approx(
        [h["val_ap"] for h in straight.history]
    )
    np.testing.assert_allclose(p_resumed, p_straight, atol=1e-6)


def test_resume_without_checkpoint_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="train without --resume"):
        run(seed=0, out_dir=tmp_path, resume=True)


def test_early_stopping_stops() -> None:
    torch.manual_seed(0)
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])
    config = TrainConfig(epochs=50, lr=0.0, batch_size=16, patience=2)  # lr 0: never improves
    result = fit(head, tiny_data(32), tiny_data(16, seed=5), config)
    assert len(result.history) == 3


def test_two_stage_head_runs_both_stages() -> None:
    torch.manual_seed(0)
    head = build_head("frame-mlp-fusion", tiny_specs(), LABELS, SMALL_CONFIGS["frame-mlp-fusion"])
    result = fit(head, tiny_data(32), tiny_data(16, seed=5), FAST)
    assert {h["stage"] for h in result.history} == {"frames", "fusion"}
    assert not any(p.requires_grad for p in head.frame_mlps.parameters())


def test_predict_arrays_matches_batched_prediction(tmp_path: Path) -> None:
    head, _, _ = run(seed=0)
    from fuse_helpers import tiny_sequences

    sequences, labels, ids = tiny_sequences(24, seed=2)
    # one input path: the arrays `predict` gets and the padded tensors `evaluate` gets (whole
    # trailers, max_len=None) give the same probabilities bit for bit (evaluate padded float16,
    # predict float32, before)
    whole = PaddedFeatures.from_sequences(sequences, labels, ids, None)
    assert np.array_equal(predict_arrays(head, sequences), predict_proba(head, whole))
    halves = {n: [a.astype(np.float16) for a in rows] for n, rows in sequences.items()}
    padded = PaddedFeatures.from_sequences(
        halves, np.zeros((24, 3)), [str(i) for i in range(24)], None
    )
    assert np.array_equal(predict_arrays(head, halves), predict_proba(head, padded))


def test_training_on_a_store(tmp_path: Path) -> None:
    from cinefeat.fuse.runs import DataOptions, load_split, train_head
    from cinefeat.fuse.splits import sorted_id_split

    store = make_store(tmp_path / "store.zarr")
    store.set_split("sorted-id", sorted_id_split(store.ids()))
    options = DataOptions(features=["clip", "audiotag"], average=["audiotag"])
    data = load_split(store, options)
    assert (len(data.train), len(data.val), len(data.test)) == (42, 6, 12)
    assert data.train.values["audiotag"].shape[1] == 1
    head, result = train_head(store, data, options, "mlp", {"hidden": 16}, FAST, tmp_path / "h")
    assert result.best_val_ap > 0.5
    assert head.provenance["features"]["clip"]["extractor"] == "synthetic-clip"


def test_equal_validation_ap_is_broken_by_the_lower_validation_loss() -> None:
    """On an easy task AP saturates at 1.0 within a few epochs; the kept epoch is the one with
    the best AP and, among those, the lowest validation loss (not simply the first)."""
    torch.manual_seed(0)
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])
    train, val = tiny_data(48, seed=1), tiny_data(24, seed=2)
    head.normalization = fit_normalization(train)
    config = TrainConfig(epochs=25, lr=3e-3, batch_size=16, pos_weight=1.0, patience=25)
    result = fit(head, train, val, config)
    history = result.history
    best_ap = max(h["val_ap"] for h in history)
    tied = [h for h in history if h["val_ap"] == best_ap]
    assert len(tied) > 1, "the task should saturate AP over several epochs"
    chosen = history[result.best_epoch["train"]]
    assert chosen["val_ap"] == best_ap
    assert chosen["val_loss"] == min(h["val_loss"] for h in tied)
    assert chosen is not tied[0]
