"""`train --refit` (train + validation for the chosen number of epochs) and `--ensemble K`
(K seeds, all saved, probabilities averaged by predict and evaluate): cinefeat.fuse.ensemble."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, SMALL_CONFIGS, invoke, split_store, tiny_data, tiny_specs

from cinefeat.fuse.checkpoint import CheckpointError
from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.ensemble import fit_recipe
from cinefeat.fuse.heads import Head, build_head
from cinefeat.fuse.predict import predict_padded
from cinefeat.fuse.train import TrainConfig, TrainingError, fit, seed_everything

FAST = {"epochs": 6, "lr": 3e-3, "batch_size": 16, "pos_weight": 1.0, "device": "cpu"}


def build() -> Head:
    return build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])


def joined(first: PaddedFeatures, second: PaddedFeatures) -> PaddedFeatures:
    """train + val as one set (both from `tiny_data`, padded to the same lengths)."""
    return PaddedFeatures(
        {n: torch.cat([first.values[n], second.values[n]]) for n in first.values},
        {n: torch.cat([first.masks[n], second.masks[n]]) for n in first.masks},
        torch.cat([first.labels, second.labels]),
        [*first.ids, *[f"v{t}" for t in second.ids]],
    )


def test_refit_trains_a_fresh_head_on_train_and_val_for_the_chosen_epochs(tmp_path: Path) -> None:
    train, val = tiny_data(48, seed=1), tiny_data(24, seed=2)
    config = TrainConfig(**FAST, refit=True)
    _, result, recipe = fit_recipe(build, train, val, config, tmp_path, joined(train, val))
    history = json.loads((tmp_path / "history.json").read_text())
    chosen = result.best_epoch["train"] + 1
    assert history["selection"]["refit_epochs"] == chosen and recipe["refit"]
    assert history["selection"]["refit_trailers"] == 72
    assert len(history["history"]) == chosen  # no early stopping: exactly that many epochs
    assert len(history["selection"]["history"]) == len(result.history)
    # the saved head is the refit one: the same as training 72 trailers for `chosen` epochs
    seed_everything(0)
    again = build()
    from cinefeat.fuse.data import fit_normalization

    both = joined(train, val)
    again.normalization = fit_normalization(both)
    fit(again, both, None, TrainConfig(**{**FAST, "epochs": chosen}))
    saved = Head.from_pretrained(tmp_path)
    for key, value in again.state_dict().items():
        assert torch.equal(saved.state_dict()[key], value), key
    with pytest.raises(TrainingError, match="validation split"):
        fit_recipe(build, train, None, config, None, joined(train, val))


def test_refit_refuses_a_two_stage_head() -> None:
    train, val = tiny_data(24, seed=1), tiny_data(12, seed=2)

    def two_stage() -> Head:
        return build_head(
            "frame-mlp-fusion", tiny_specs(), LABELS, SMALL_CONFIGS["frame-mlp-fusion"]
        )

    with pytest.raises(TrainingError, match="one stage"):
        fit_recipe(two_stage, train, val, TrainConfig(**FAST, refit=True), None, train)


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    return split_store(tmp_path / "store.zarr")


def train(store_path: str, out: Path, *extra: str) -> dict:
    return json.loads(
        invoke(
            "train", store_path, "--arch", "mlp", "--features", "clip,audiotag", "--out",
            str(out), "--set", "hidden=16", "--epochs", "4", "--lr", "3e-3", "--batch-size",
            "16", "--pos-weight", "1", "--json", *extra,
        )
    )  # fmt: skip


def test_an_ensemble_is_saved_whole_and_scored_as_the_mean_of_its_members(
    store_path: str, tmp_path: Path
) -> None:
    out = tmp_path / "ensemble"
    answer = train(store_path, out, "--ensemble", "3", "--seed", "5")
    assert answer["recipe"]["seeds"] == [5, 6, 7]
    assert json.loads((out / "ensemble.json").read_text())["members"] == [
        "members/01",
        "members/02",
    ]
    # each member is exactly the single run of its seed
    train(store_path, tmp_path / "seed6", "--seed", "6")
    single = Head.from_pretrained(tmp_path / "seed6")
    member = Head.from_pretrained(out / "members" / "01")
    for key, value in single.state_dict().items():
        assert torch.equal(member.state_dict()[key], value), key
    # evaluate and predict use every member: the mean of the three heads' probabilities
    from cinefeat.fuse.cli import _head_data
    from cinefeat.fuse.metrics import macro_ap
    from cinefeat.store import FeatureStore

    ensemble = Head.from_pretrained(out)
    assert len(ensemble.ensemble_members) == 2
    _, test = _head_data(FeatureStore.open(store_path), ensemble, None, None)
    alone = [Head.from_pretrained(out / "members" / n) for n in ("01", "02")]
    first = Head.from_pretrained(out)
    first.ensemble_members = []  # member 0 on its own
    mean = np.mean([predict_padded(h, test) for h in (first, *alone)], axis=0)
    scores = predict_padded(ensemble, test)
    np.testing.assert_allclose(scores, mean, rtol=1e-6, atol=1e-7)
    assert not np.allclose(scores, predict_padded(first, test))  # the members do count
    report = json.loads(
        invoke("evaluate", store_path, "--head", str(out), "--out", str(tmp_path / "r"), "--json")
    )
    assert report["runs"][str(out)]["ap_macro"] == pytest.approx(
        macro_ap(test.labels.numpy(), scores)
    )


def test_a_member_that_does_not_match_is_refused(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "ensemble"
    train(store_path, out, "--ensemble", "2")
    other = tmp_path / "other"
    train(store_path, other, "--features", "clip")  # same head, other features
    shutil.rmtree(out / "members" / "01")
    shutil.copytree(other, out / "members" / "01")
    with pytest.raises(CheckpointError, match="not a member"):
        Head.from_pretrained(out)
    (out / "ensemble.json").write_text(json.dumps({"members": ["../other"]}))
    with pytest.raises(CheckpointError, match="not a folder inside"):
        Head.from_pretrained(out)
    shutil.rmtree(out / "members" / "01")
    (out / "ensemble.json").write_text(json.dumps({"members": ["members/01"]}))
    with pytest.raises(CheckpointError, match="missing"):
        Head.from_pretrained(out)  # a deleted member is refused, not silently dropped
