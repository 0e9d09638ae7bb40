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


def zero_shot_outputs(head, probe: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the store labels and joint-space embeddings, by the one head input path."""
    from cinefeat.fuse.similarity.finetune import embed_all
    from cinefeat.fuse.zeroshot.labels import LabelEmbeddings
    from cinefeat.fuse.zeroshot.rank import head_rows, predict_scores

    labels = LabelEmbeddings.load(RELEASE / "zeroshot" / "store_label_embeddings.safetensors")
    head.check_encoder(labels)
    data = head_rows(head, {"synthetic": probe})
    return predict_scores(head, data, labels.vectors), embed_all(head, data)


def test_zero_shot_folder_scores_as_released(expected: dict, probe: list[np.ndarray]) -> None:
    """The 0.1 layout (no format, statistics inside the model) loads through `load_head`."""
    record = expected["zeroshot"]
    head = load_head(RELEASE / "zeroshot")
    assert head.name == "zeroshot" and head.open_labels
    assert head.decision_threshold == pytest.approx(record["threshold"])
    assert head.label_provenance["encoder"].startswith("synthetic")
    assert [spec.max_len for spec in head.features] == [record["max_len"]]
    scores, embedding = zero_shot_outputs(head, probe)
    np.testing.assert_allclose(scores, record["scores"], atol=1e-5)
    np.testing.assert_allclose(embedding, record["embedding"], atol=1e-5)


def test_zero_shot_folder_resaved_in_the_current_format(
    expected: dict, probe: list[np.ndarray], tmp_path: Path
) -> None:
    """Saved again, the 0.1 head is an ordinary head folder (format 1) and scores the same."""
    from cinefeat.fuse.checkpoint import FILES, FORMAT_VERSION, save_head

    save_head(load_head(RELEASE / "zeroshot"), tmp_path / "zs")
    assert json.loads((tmp_path / "zs" / "config.json").read_text())["format"] == FORMAT_VERSION
    assert all((tmp_path / "zs" / name).is_file() for name in FILES)
    head = load_head(tmp_path / "zs")
    assert head.decision_threshold == pytest.approx(expected["zeroshot"]["threshold"])
    scores, embedding = zero_shot_outputs(head, probe)
    np.testing.assert_allclose(scores, expected["zeroshot"]["scores"], atol=1e-5)
    np.testing.assert_allclose(embedding, expected["zeroshot"]["embedding"], atol=1e-5)
