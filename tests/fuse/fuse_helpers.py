"""Tiny synthetic data for the head tests (imported by the test modules of this folder)."""

from __future__ import annotations

import numpy as np

from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.heads import FeatureSpec

LABELS = ["Action", "Comedy", "Drama"]
FEATURE_DIMS = {"clip": 12, "audiotag": 6}
MAX_LEN = {"clip": 10, "audiotag": 7}


def tiny_sequences(count: int = 48, seed: int = 0):
    """Sequences whose labels are readable from their mean: label c shifts dims c of clip up."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((count, len(LABELS))) < 0.4).astype(np.float32)
    sequences: dict[str, list[np.ndarray]] = {name: [] for name in FEATURE_DIMS}
    for row in range(count):
        for name, dim in FEATURE_DIMS.items():
            length = int(rng.integers(0 if name == "audiotag" else 1, MAX_LEN[name] + 3))
            values = rng.normal(size=(length, dim)).astype(np.float32)
            values[:, : len(LABELS)] += 2.0 * labels[row]
            sequences[name].append(values)
    ids = [f"t{row:03d}" for row in range(count)]
    return sequences, labels, ids


def tiny_data(count: int = 48, seed: int = 0, average: tuple[str, ...] = ()) -> PaddedFeatures:
    sequences, labels, ids = tiny_sequences(count, seed)
    return PaddedFeatures.from_sequences(sequences, labels, ids, MAX_LEN, average=average)


def tiny_specs(average: tuple[str, ...] = ()) -> list[FeatureSpec]:
    return [
        FeatureSpec(name, dim, 1 if name in average else MAX_LEN[name], name in average)
        for name, dim in FEATURE_DIMS.items()
    ]


# Small but faithful configurations: the architecture of each head, at test size.
SMALL_CONFIGS: dict[str, dict] = {
    "mlp": {"hidden": 32},
    "single-transformer": {"d_model": 32, "heads": 4, "dropout": 0.1},
    "multi-transformer": {"d_model": 16, "heads": 4, "dropout": 0.1},
    "gated": {"d_model": 32, "hidden": 32, "dropout": 0.1},
    "gmu": {"d_model": 32, "dropout": 0.1},
    "hierarchical": {"d_model": 32, "heads": 4, "layers": 2},
    "clip-aggregation": {"d_model": 32, "heads": 4, "window": 4, "dropout": 0.1},
    "frame-mlp-fusion": {"hidden": 32, "d_model": 32, "heads": 4, "dropout": 0.1},
    "zeroshot": {"joint_dim": 16, "label_dim": 8},
}


def make_store(path, count: int = 60, seed: int = 0):
    """A tiny real store (through the store's writer API) with labels and a sorted-id split."""
    from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord

    sequences, labels, ids = tiny_sequences(count, seed)
    store = FeatureStore.create(path)
    with store.writer(run="test", worker="0") as writer:
        for name, dim in FEATURE_DIMS.items():
            writer.declare_feature(name, provenance={"extractor": f"synthetic-{name}"}, dim=dim)
        for row, trailer in enumerate(ids):
            rows = {
                name: FeatureRows(sequences[name][row], np.zeros((len(sequences[name][row]), 2)))
                for name in FEATURE_DIMS
            }
            record = TrailerRecord(id=trailer, duration_s=60.0 + row, status="ok")
            writer.add(record, features=rows)
    store.set_labels(LABELS, {t: labels[i] for i, t in enumerate(ids)})
    return FeatureStore.open(path)


def invoke(*args: str) -> str:
    """`cinefeat --quiet ARGS` through the real entry point; its output, or a failed assert."""
    from click.testing import CliRunner

    from cinefeat.cli.main import main

    result = CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def split_store(path, count: int = 60) -> str:
    """`make_store` plus `cinefeat split --kind sorted-id`, as a user prepares a store."""
    make_store(path, count=count)
    invoke("split", str(path), "--kind", "sorted-id")
    return str(path)
