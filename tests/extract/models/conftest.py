"""Fixtures of the model tests: Keras-1 files written in the published layout, shared Choi files.

Files are written in the *exact* published formats (Keras 1.x `save_weights` h5 layout, PyTorch
checkpoint dicts, Hugging Face directories) with random weights, so the real loading code runs
offline; the real Choi files come from `$CINEFEAT_SHARED` when it is set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cinefeat.extract import pretrained

CHOI_DIR = "weights/choi2016-music-tagger"
SONGS = ("cute", "actionable", "dubstep", "thejazzpiano")


def write_keras1_h5(path: Path, layers: dict[str, dict[str, np.ndarray]], suffix: str = "") -> Path:
    """Keras 1.x `save_weights` layout: root `layer_names`, group per layer, `weight_names`."""
    import h5py

    with h5py.File(path, "w") as handle:
        names = [*layers, "dropout_1"]  # a layer without weights, as in the published files
        handle.attrs["layer_names"] = np.array([n.encode() for n in names])
        for layer in names:
            group = handle.create_group(layer)
            params = layers.get(layer, {})
            weight_names = [f"{layer}_{p}{suffix}:0".encode() for p in params]
            group.attrs["weight_names"] = np.array(weight_names) if params else np.array([])
            for value, weight_name in zip(params.values(), weight_names, strict=True):
                group.create_dataset(weight_name.decode(), data=value.astype(np.float32))
    return path


def random_choi_layers(model: str, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Random parameters with the shapes of the published CNN or CRNN file."""
    rng = np.random.default_rng(seed)
    channels, frames = (
        ((32, 128, 128, 192, 256), 1366) if model == "cnn" else ((64, 128, 128, 128), 1440)
    )

    def bn(size: int) -> dict[str, np.ndarray]:
        return {
            "gamma": rng.uniform(0.5, 1.5, size),
            "beta": rng.normal(0, 0.1, size),
            "running_mean": rng.normal(0, 0.1, size),
            "running_std": rng.uniform(0.5, 1.5, size),
        }

    layers: dict[str, dict[str, np.ndarray]] = {"bn_0_freq": bn(frames)}
    previous = 1
    for index, width in enumerate(channels, start=1):
        fan_in = previous * 9
        layers[f"conv{index}"] = {
            "W": rng.normal(0, (2 / fan_in) ** 0.5, (width, previous, 3, 3)),
            "b": np.zeros(width),
        }
        layers[f"bn{index}"] = bn(width)
        previous = width
    if model == "crnn":
        for name, size_in in (("gru1", 128), ("gru2", 32)):
            gates: dict[str, np.ndarray] = {}
            for gate in "zrh":
                gates[f"W_{gate}"] = rng.normal(0, 0.1, (size_in, 32))
                gates[f"U_{gate}"] = rng.normal(0, 0.1, (32, 32))
                gates[f"b_{gate}"] = np.zeros(32)
            layers[name] = gates
    layers["output"] = {
        "W": rng.normal(0, 0.1, (previous if model == "cnn" else 32, 50)),
        "b": np.zeros(50),
    }
    return layers


@pytest.fixture(scope="session")
def keras1_file():
    """`keras1_file(path, layers, suffix="")` writes a Keras 1.x weights file (see above)."""
    return write_keras1_h5


@pytest.fixture(scope="session")
def random_choi():
    """`random_choi("cnn" | "crnn", seed)` -> layers with the published shapes."""
    return random_choi_layers


@pytest.fixture(scope="session")
def choi_dir(shared_dir: Path) -> Path:
    path = shared_dir / CHOI_DIR
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture
def choi_cache(tmp_cache: Path, choi_dir: Path) -> Path:
    """The offline cache holding the published Choi files (fetched = copied from shared)."""
    for entry, filename in (
        ("choi2016-music-tagger-cnn", "music_tagger_cnn_weights_tensorflow.h5"),
        ("choi2016-music-tagger-crnn", "music_tagger_crnn_weights_tensorflow.h5"),
    ):
        target = pretrained.entry_dir(entry) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(choi_dir / filename, target)
    return tmp_cache


@pytest.fixture
def ast_cache(tmp_cache, tmp_path):
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    config = ASTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=527,
    )
    torch.manual_seed(0)
    folder = tmp_path / "ast"
    ASTForAudioClassification(config).save_pretrained(folder, safe_serialization=True)
    ASTFeatureExtractor().save_pretrained(folder)
    assert {p.name for p in folder.iterdir()} >= set(
        {"model.safetensors", "config.json", "preprocessor_config.json"}
    )
    target = pretrained.entry_dir("ast-audioset")
    target.mkdir(parents=True)
    for path in folder.iterdir():
        shutil.copyfile(path, target / path.name)
    return tmp_cache
