"""`zeroshot-train --preset dogan2022` records the paper's settings; explicit options win."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.fuse.zeroshot.synthetic import SyntheticSpec, make_synthetic
from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dogan")
    data, embeddings = make_synthetic(SyntheticSpec(n_trailers=120, seed=5))
    store = FeatureStore.create(root / "store.zarr")
    with store.writer(run="test") as writer:
        writer.declare_feature("synthetic", {"extractor": "synthetic"}, dim=8, dtype="float32")
        for i, trailer in enumerate(data.ids):
            n = int(data.masks["synthetic"][i].sum())
            spans = np.stack([np.arange(n), np.arange(n) + 1.0], axis=1)
            writer.add(
                TrailerRecord(id=trailer, duration_s=float(n)),
                {"synthetic": FeatureRows(data.values["synthetic"][i, :n].numpy(), spans)},
            )
    truth = data.labels.numpy() > 0.5
    store.set_labels(
        data.label_names,
        {
            t: [data.label_names[c] for c in np.flatnonzero(truth[i])]
            for i, t in enumerate(data.ids)
        },
    )
    embeddings.save(root / "labels.safetensors")
    return {"root": root, "store": root / "store.zarr", "labels": root / "labels.safetensors"}


def train(store: dict[str, Path], out: str, *extra: str) -> tuple[dict, dict]:
    args = ["--quiet", "zeroshot-train", str(store["store"]), "--features", "synthetic"]
    args += ["--label-embeddings", str(store["labels"]), "--out", str(store["root"] / out)]
    result = CliRunner().invoke(main, [*args, "--epochs", "1", "--device", "cpu", *extra])
    assert result.exit_code == 0, result.output
    folder = store["root"] / out
    config = json.loads((folder / "config.json").read_text())["config"]
    return config, json.loads((folder / "zeroshot_split.json").read_text())["train_config"]


def test_preset_sets_the_papers_options(store: dict[str, Path]) -> None:
    config, train_config = train(store, "paper", "--preset", "dogan2022", "--seed", "7")
    assert config["tanh"] is True and config["uniform"] == "sum"
    assert train_config["optimizer"] == "sgd" and train_config["lr"] == 0.01
    assert train_config["seed"] == 7


def test_explicit_options_override_the_preset(store: dict[str, Path]) -> None:
    config, train_config = train(
        store, "mixed", "--preset", "dogan2022", "--optimizer", "adamw", "--no-tanh"
    )
    assert config["tanh"] is False and config["uniform"] == "sum"
    assert train_config["optimizer"] == "adamw" and train_config["lr"] == 0.01


def test_defaults_without_preset(store: dict[str, Path]) -> None:
    config, train_config = train(store, "plain")
    assert config["tanh"] is False and config["uniform"] == "mean"
    assert train_config["optimizer"] == "adamw" and train_config["lr"] == 3e-3
