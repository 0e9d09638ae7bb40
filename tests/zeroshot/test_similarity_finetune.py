"""Contrastive fine-tuning makes the two halves of a trailer find each other; report outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinefeat.fuse.data import PaddedFeatures, prepare_inputs
from cinefeat.fuse.heads import FeatureSpec, build_head
from cinefeat.fuse.similarity import (
    ContrastiveConfig,
    CosineIndex,
    contrastive_finetune,
    embed_all,
    split_halves,
)
from cinefeat.fuse.similarity.report import primary_labels, silhouette, similarity_report

N, L, D = 256, 24, 16


@pytest.fixture(scope="module")
def trailers() -> PaddedFeatures:
    """Each trailer has a weak signature in 4 dims, drowned in step noise on 12 others."""
    rng = np.random.default_rng(0)
    signal = np.r_[np.ones(4), np.zeros(12)]
    noise = np.r_[np.full(4, 0.7), np.full(12, 2.0)]
    signatures = rng.normal(size=(N, D)) * signal
    rows = [(signatures[i] + rng.normal(size=(L, D)) * noise).astype(np.float32) for i in range(N)]
    ids = [f"t{i:03d}" for i in range(N)]
    return PaddedFeatures.from_sequences({"x": rows}, np.zeros((N, 2)), ids, {"x": L})


def half_retrieval_accuracy(head, data: PaddedFeatures) -> float:
    """How often the second half of a trailer is the nearest neighbour of its first half."""
    head.eval()
    (first, first_mask), (second, second_mask) = split_halves(
        {"x": data.values["x"].float()}, data.masks
    )
    with torch.no_grad():
        a = head.embed(*prepare_inputs(first, first_mask, {}, "cpu")).numpy()
        b = head.embed(*prepare_inputs(second, second_mask, {}, "cpu")).numpy()
    rows, _ = CosineIndex(data.ids, b).query_vectors(a, 1)
    return float((rows[:, 0] == np.arange(len(a))).mean())


def test_nt_xent_finetuning_pulls_trailer_halves_together(trailers: PaddedFeatures) -> None:
    torch.manual_seed(0)
    head = build_head("mlp", [FeatureSpec("x", D, L)], ["a", "b"], {"hidden": 32, "dropout": 0.0})
    classifier_before = head.classifier.weight.detach().clone()
    before = half_retrieval_accuracy(head, trailers)
    config = ContrastiveConfig(epochs=15, batch_size=64, lr=3e-3, device="cpu")
    history = contrastive_finetune(head, trailers, config)
    after = half_retrieval_accuracy(head, trailers)
    assert history[-1] < history[0]
    assert after > 2 * before and after > 0.12, (before, after)
    torch.testing.assert_close(head.classifier.weight, classifier_before)  # projection-only extra
    assert embed_all(head, trailers).shape == (N, 32)


def test_primary_label_rules() -> None:
    targets = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 0, 1]])  # counts 3, 1, 1
    assert primary_labels(targets, "rarest").tolist() == [1, 0, -1, 2]
    assert primary_labels(targets, "most-frequent").tolist() == [0, 0, -1, 0]


def test_silhouette_and_map_report(tmp_path) -> None:
    rng = np.random.default_rng(1)
    centres = np.eye(3, 8) * 5
    labels = np.repeat(np.arange(3), 40)
    clustered = centres[labels] + rng.normal(size=(120, 8))
    shuffled = rng.normal(size=(120, 8))
    targets = np.eye(3)[labels]
    assert silhouette(clustered, labels) > 0.5 > silhouette(shuffled, labels)
    report = similarity_report(shuffled, clustered, targets, ["x", "y", "z"], tmp_path)
    assert report["silhouette_after"] > report["silhouette_before"]
    png = (tmp_path / "map_after.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
