"""`train --ensemble K --bootstrap --subspace F`: bagged, random-subspace members
(cinefeat.fuse.bagging), whose columns are saved with them and read identically at predict time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import FEATURE_DIMS, LABELS, SMALL_CONFIGS, tiny_data, tiny_specs

import cinefeat.fuse.ensemble as ensemble_module
from cinefeat.fuse.bagging import BaggingError
from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.ensemble import fit_recipe
from cinefeat.fuse.heads import Head, HeadConfigError, build_head
from cinefeat.fuse.predict import predict_padded
from cinefeat.fuse.train import TrainConfig

FAST = {"epochs": 4, "lr": 3e-3, "batch_size": 16, "pos_weight": 1.0, "device": "cpu"}


def build() -> Head:
    return build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])


def scrambled(data: PaddedFeatures, columns: dict[str, list[int]]) -> PaddedFeatures:
    """`data` with every column outside `columns` replaced by large noise."""
    values = {}
    for name, tensor in data.values.items():
        noisy = tensor.clone()
        drop = [c for c in range(tensor.shape[-1]) if c not in columns.get(name, range(10**6))]
        noisy[..., drop] = torch.randn(*tensor.shape[:-1], len(drop)) * 50
        values[name] = noisy
    return PaddedFeatures(values, data.masks, data.labels, data.ids, data.label_names)


def test_a_subspace_member_reads_only_its_saved_columns(tmp_path: Path) -> None:
    train, val, test = tiny_data(48, seed=1), tiny_data(24, seed=2), tiny_data(20, seed=3)
    config = TrainConfig(**FAST, ensemble=2, subspace=0.5)
    head, _, recipe = fit_recipe(build, train, val, config, tmp_path)
    assert recipe["subspace"] == 0.5
    first, second = head, head.ensemble_members[0]
    for member in (first, second):
        assert {n: len(c) for n, c in member.config.columns.items()} == {
            n: d // 2 for n, d in FEATURE_DIMS.items()
        }
    assert first.config.columns != second.config.columns  # each member draws its own
    loaded = Head.from_pretrained(tmp_path)
    members = [loaded, *loaded.ensemble_members]
    assert [m.config.columns for m in members] == [first.config.columns, second.config.columns]
    # what a loaded member predicts does not depend on the columns it was not trained on
    for member in members:
        alone = Head.from_pretrained(tmp_path if member is loaded else tmp_path / "members/01")
        alone.ensemble_members = []
        np.testing.assert_allclose(
            predict_padded(alone, scrambled(test, member.config.columns)),
            predict_padded(alone, test),
            rtol=1e-5,
            atol=1e-6,
        )
    np.testing.assert_allclose(predict_padded(loaded, test), predict_padded(head, test), atol=1e-6)


def test_bootstrap_resamples_the_training_rows_and_never_the_validation_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    train, val = tiny_data(48, seed=1), tiny_data(24, seed=2)
    seen: list[tuple[list[str], list[str]]] = []
    real_fit = ensemble_module.fit

    def recording_fit(head, rows, held_out, config, *args, **kwargs):
        seen.append((list(rows.ids), list(held_out.ids)))
        return real_fit(head, rows, held_out, config, *args, **kwargs)

    monkeypatch.setattr(ensemble_module, "fit", recording_fit)
    fit_recipe(build, train, val, TrainConfig(**FAST, ensemble=2, bootstrap=True))
    (rows_a, val_a), (rows_b, val_b) = seen
    for rows in (rows_a, rows_b):
        assert len(rows) == len(train) and len(set(rows)) < len(train)  # with replacement
        assert set(rows) <= set(train.ids)
    assert rows_a != rows_b  # each member its own sample
    assert val_a == val_b == list(val.ids)


def test_bad_subspace_and_columns_are_refused() -> None:
    train, val = tiny_data(24, seed=1), tiny_data(12, seed=2)
    with pytest.raises(BaggingError, match="subspace"):
        fit_recipe(build, train, val, TrainConfig(**FAST, subspace=0.0))
    with pytest.raises(HeadConfigError, match=r"0\.\.11"):
        build_head("mlp", tiny_specs(), LABELS, {"hidden": 8, "columns": {"clip": [12]}})
    with pytest.raises(HeadConfigError, match="reads"):
        build_head("mlp", tiny_specs(), LABELS, {"hidden": 8, "columns": {"ocr": [0]}})


def test_train_cli_saves_bagged_members_and_records_the_recipe(tmp_path: Path) -> None:
    from fuse_helpers import invoke, split_store

    store = split_store(tmp_path / "store.zarr")
    out = tmp_path / "bag"
    answer = json.loads(
        invoke(
            "train", store, "--head", "mlp", "--features", "clip,audiotag", "--out", str(out),
            "--set", "hidden=16", "--epochs", "3", "--lr", "3e-3", "--batch-size", "16",
            "--pos-weight", "1", "--json", "--ensemble", "2", "--bootstrap", "--subspace", "0.25",
        )
    )  # fmt: skip
    assert answer["recipe"]["bootstrap"] is True and answer["recipe"]["subspace"] == 0.25
    for folder in (out, out / "members" / "01"):
        columns = json.loads((folder / "config.json").read_text())["config"]["columns"]
        assert {n: len(c) for n, c in columns.items()} == {"clip": 3, "audiotag": 2}
