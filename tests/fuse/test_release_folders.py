"""Head folders written by cinefeat 0.1.0 still load and predict what they predicted then.

The folders and the recorded numbers are in tests/data/release-0.1 (README.md there says how they
were made); a refactoring that changes the folder format or the scoring path fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cinefeat.fuse.checkpoint import load_head
from cinefeat.fuse.predict import predict_arrays

RELEASE = Path(__file__).parent.parent / "data" / "release-0.1"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((RELEASE / "expected.json").read_text())


@pytest.fixture(scope="module")
def probe() -> list[np.ndarray]:
    arrays = np.load(RELEASE / "probe.npz")
    return [arrays[f"row{i}"] for i in range(len(arrays.files))]


def test_mlp_folder_predicts_as_released(expected: dict, probe: list[np.ndarray]) -> None:
    head = load_head(RELEASE / "mlp")
    assert head.name == "mlp" and head.label_names == expected["mlp"]["labels"]
    probabilities = predict_arrays(head, {"synthetic": probe})
    np.testing.assert_allclose(probabilities, expected["mlp"]["probabilities"], atol=1e-6)


def test_zero_shot_folder_scores_as_released(expected: dict, probe: list[np.ndarray]) -> None:
    import torch

    from cinefeat.fuse.zeroshot.checkpoint import load_zero_shot
    from cinefeat.fuse.zeroshot.data import pad_sequences
    from cinefeat.fuse.zeroshot.labels import LabelEmbeddings

    record = expected["zeroshot"]
    head = load_zero_shot(RELEASE / "zeroshot")
    assert head.threshold == pytest.approx(record["threshold"])
    labels = LabelEmbeddings.load(RELEASE / "zeroshot" / "store_label_embeddings.safetensors")
    assert labels.names == record["labels"]
    values, mask = pad_sequences(probe, 8, head.features["synthetic"]["max_len"])
    with torch.no_grad():
        inputs, masks = {"synthetic": values}, {"synthetic": mask}
        scores = head.model.score(inputs, masks, torch.as_tensor(labels.vectors))
        embedding = head.model.embed(inputs, masks)
    np.testing.assert_allclose(scores.numpy(), record["scores"], atol=1e-5)
    np.testing.assert_allclose(embedding.numpy(), record["embedding"], atol=1e-5)
