"""The papers' training options: LR schedules, AMSGrad, --select-by, per-class positive weights,
evaluate --threshold, the validation checks, the small-data suggestion, and reproducibility of
`cinefeat train` + `evaluate` with the same --seed."""

from __future__ import annotations

import json
import logging
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, SMALL_CONFIGS, make_store, tiny_data, tiny_specs

from cinefeat.cli.main import main
from cinefeat.fuse.data import fit_normalization
from cinefeat.fuse.heads import build_head
from cinefeat.fuse.train import (
    TrainConfig,
    Trainer,
    TrainingError,
    _optimizer,
    fit,
    label_pos_weight,
    lr_factor,
)

FAST = {"epochs": 4, "lr": 3e-3, "batch_size": 16, "pos_weight": 1.0}


def train_mlp(train=None, val=None, **changes):
    torch.manual_seed(0)
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])
    train = tiny_data(48, seed=1) if train is None else train
    val = tiny_data(24, seed=2) if val is None else val
    head.normalization = fit_normalization(train)
    return fit(head, train, val, TrainConfig(**{**FAST, **changes}))


def test_lr_factors_of_each_schedule() -> None:
    cosine = TrainConfig(epochs=10, schedule="cosine", warmup_epochs=2)
    assert [lr_factor(cosine, e) for e in (0, 1)] == [1 / 3, 2 / 3]  # linear warm-up
    assert lr_factor(cosine, 2) == 1.0
    assert lr_factor(cosine, 6) == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))
    step = TrainConfig(schedule="step", step_size=3, gamma=0.5)
    assert [lr_factor(step, e) for e in (0, 2, 3, 6)] == [1.0, 1.0, 0.5, 0.25]
    assert lr_factor(TrainConfig(schedule="plateau"), 5, plateau=0.01) == 0.01
    assert lr_factor(TrainConfig(), 7) == 1.0


def test_the_schedule_reaches_the_optimizer() -> None:
    result = train_mlp(schedule="cosine", warmup_epochs=1)
    config = TrainConfig(**{**FAST, "schedule": "cosine", "warmup_epochs": 1})
    assert [h["lr"] for h in result.history] == [
        pytest.approx(3e-3 * lr_factor(config, e)) for e in range(4)
    ]


def test_plateau_cuts_the_lr_after_stalls() -> None:
    # lr 0: the weights never move, so after epoch 0 every epoch is a stall (same AP, same loss)
    torch.manual_seed(0)
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])
    train, val = tiny_data(48, seed=1), tiny_data(24, seed=2)
    head.normalization = fit_normalization(train)
    config = TrainConfig(**{**FAST, "epochs": 5, "lr": 0.0, "schedule": "plateau"})
    trainer = Trainer(head, train, val, replace(config, plateau_patience=2, gamma=0.5))
    trainer.fit()
    assert trainer._plateau == 0.25  # 4 stalls, a cut every 2
    trainer = Trainer(head, train, val, replace(config, schedule="none"))
    trainer.fit()
    assert trainer._plateau == 1.0


def test_amsgrad_reaches_the_optimizer() -> None:
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])
    for name in ("adam", "adamw"):
        optimizer = _optimizer(head, TrainConfig(optimizer=name, amsgrad=True))
        assert optimizer.param_groups[0]["amsgrad"] is True


def test_select_by_loss_and_auprc_sum_pick_their_best_epoch() -> None:
    by_loss = train_mlp(epochs=5, select_by="loss")
    losses = [h["val_loss"] for h in by_loss.history]
    assert by_loss.best_epoch["train"] == int(np.argmin(losses))
    assert by_loss.best_score == pytest.approx(-min(losses))
    by_sum = train_mlp(epochs=5, select_by="auprc_sum")
    sums = [h["val_auprc_sum"] for h in by_sum.history]
    assert by_sum.best_score == max(sums) and 0 < max(sums) <= 3
    assert sums[by_sum.best_epoch["train"]] == max(sums)


def test_frequency_positive_weights() -> None:
    labels = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=np.float32)
    weights = label_pos_weight(labels, TrainConfig(pos_weight="frequency"))
    # negatives / positives; a label without positives gets 1 (nothing to weight)
    np.testing.assert_allclose(weights, [1 / 3, 3.0, 1.0])
    np.testing.assert_allclose(label_pos_weight(labels, TrainConfig(pos_weight=0.25)), 0.25)
    assert train_mlp(pos_weight="frequency").best_val_ap > 0


def test_labels_without_training_positives_are_warned(caplog) -> None:
    train = tiny_data(48, seed=1)
    train.labels[:, 2] = 0
    with caplog.at_level(logging.WARNING, logger="cinefeat.fuse.train"):
        train_mlp(train=train, epochs=1)
    assert "no positive in the training split" in caplog.text and "Drama" in caplog.text


def test_a_validation_split_without_positives_cannot_select() -> None:
    val = tiny_data(24, seed=2)
    val.labels[:] = 0
    with pytest.raises(TrainingError, match=r"validation split .* has no positive label"):
        train_mlp(val=val, epochs=1)
    assert len(train_mlp(val=val, epochs=2, select_by="loss").history) == 2  # loss still selects


def test_unknown_options_are_refused() -> None:
    for changes in ({"schedule": "linear"}, {"select_by": "f1"}, {"pos_weight": "auto"}):
        with pytest.raises(TrainingError):
            train_mlp(**changes)


def test_store_training_split_is_cropped_and_held_out_splits_are_whole(tmp_path: Path) -> None:
    from cinefeat.fuse.runs import DataOptions, load_split

    store = make_store(tmp_path / "store.zarr", count=40)
    from cinefeat.fuse.splits import sorted_id_split

    store.set_split("sorted-id", sorted_id_split(sorted(store.labels()[1])))
    data = load_split(store, DataOptions(features=["clip"], max_len={"clip": 4}))
    assert data.train.values["clip"].shape[1] == 4
    longest = max(int(m.sum()) for m in data.test.masks["clip"])
    assert longest > 4 and data.test.values["clip"].shape[1] == longest


# --- through the CLI ---------------------------------------------------------------------


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = tmp_path / "store.zarr"
    make_store(path, count=60)
    invoke("split", str(path), "--kind", "sorted-id")
    return str(path)


def train_and_evaluate(store_path: str, folder: Path, *extra: str) -> tuple[dict, dict, dict]:
    options = ["--epochs", "3", "--lr", "3e-3", "--batch-size", "16", "--seed", "5"]
    trained = json.loads(
        invoke(
            "train", store_path, "--arch", "multi-transformer", "--features", "clip,audiotag",
            "--out", str(folder / "head"), "--set", "d_model=16", "--set", "heads=4",
            "--schedule", "cosine", "--pos-weight", "frequency", "--crop", "random",
            *options, *extra, "--json",
        )
    )  # fmt: skip
    evaluated = json.loads(
        invoke("evaluate", store_path, "--head", str(folder / "head"), "--out",
               str(folder / "report"), "--json")
    )  # fmt: skip
    history = json.loads((folder / "head" / "history.json").read_text())
    return trained, evaluated["runs"][str(folder / "head")], history


def test_same_command_and_seed_give_identical_metrics(store_path: str, tmp_path: Path) -> None:
    first = train_and_evaluate(store_path, tmp_path / "a")
    second = train_and_evaluate(store_path, tmp_path / "b")
    assert first[0]["best_val_ap_macro"] == second[0]["best_val_ap_macro"]
    assert first[1] == second[1]  # every test metric, bit for bit
    assert [h["loss"] for h in first[2]["history"]] == [h["loss"] for h in second[2]["history"]]
    other = train_and_evaluate(store_path, tmp_path / "c", "--seed", "6")
    assert [h["loss"] for h in other[2]["history"]] != [h["loss"] for h in first[2]["history"]]
    config = json.loads((tmp_path / "a" / "head" / "config.json").read_text())
    assert "random" in json.dumps(config)  # the crop travels with the head


def test_evaluate_threshold_and_the_small_data_suggestion(store_path: str, tmp_path: Path) -> None:
    # selected by loss, 2 epochs at a low lr: the loss still falls at the last epoch
    trained, at_half, _ = train_and_evaluate(
        store_path, tmp_path / "a", "--epochs", "2", "--lr", "1e-4", "--select-by", "loss"
    )
    assert trained["best_is_last"] and trained["best_epoch"] == {"train": 1}
    assert "--optimizer adamw --lr 1e-3" in trained["suggestion"]
    head = str(tmp_path / "a" / "head")
    at_zero = json.loads(
        invoke("evaluate", store_path, "--head", head, "--out", str(tmp_path / "zero"),
               "--threshold", "0", "--json")
    )["runs"][head]  # fmt: skip
    assert at_zero["ap_macro"] == at_half["ap_macro"]  # ranking metrics do not move
    # at threshold 0 every label is predicted: recall 1, precision = each label's positive rate
    from cinefeat.store import FeatureStore

    store = FeatureStore.open(store_path)
    _, labels = store.labels()
    test = np.stack([labels[t] for t in store.splits()["sorted-id"]["test"]]).astype(float)
    assert at_zero["recall_macro"] == 1.0
    assert at_zero["precision_macro"] == pytest.approx(test.mean(axis=0).mean())


def test_a_sulun_preset_trains_with_its_equidistant_crop(store_path: str, tmp_path: Path) -> None:
    """Without --crop, the preset's crop is used and recorded (issue 17: --crop defaulted to
    `first`, so `single-transformer:sulun2024` took the first rows where Sulun subsamples)."""
    from cinefeat.fuse.runs import DataOptions, load_split
    from cinefeat.store import FeatureStore

    folder = tmp_path / "head"
    invoke(
        "train", store_path, "--arch", "single-transformer:sulun2024", "--features", "clip",
        "--max-len", "clip=4", "--out", str(folder), "--set", "d_model=16", "--set", "heads=4",
        "--epochs", "1", "--lr", "3e-3", "--batch-size", "16", "--json",
    )  # fmt: skip
    config = json.loads((folder / "config.json").read_text())["config"]
    assert config["crop"] == "equidistant" and config["long_sequences"] == "equidistant"
    features = json.loads((folder / "features.json").read_text())
    assert features["provenance"]["data"]["crop"] == "equidistant"
    # the training rows themselves are the equidistant subsample, not the first rows
    store = FeatureStore.open(store_path)
    options = DataOptions(features=["clip"], max_len={"clip": 4})
    preset = load_split(store, options, "single-transformer:sulun2024")
    equidistant = load_split(store, replace(options, crop="equidistant"))
    first = load_split(store, options, "single-transformer")
    assert preset.crop == "equidistant" and first.crop == "first"
    assert torch.equal(preset.train.values["clip"], equidistant.train.values["clip"])
    assert not torch.equal(preset.train.values["clip"], first.train.values["clip"])
