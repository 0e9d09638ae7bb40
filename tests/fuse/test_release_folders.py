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


@pytest.fixture(scope="module")
def release_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store the 0.1 heads were trained on, remade (README.md: same generator and seed)."""
    from cinefeat.fuse.zeroshot.synthetic import SyntheticSpec, make_synthetic
    from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord

    data, _ = make_synthetic(SyntheticSpec(n_trailers=120, n_groups=6, seed=7))
    path = tmp_path_factory.mktemp("release") / "store.zarr"
    store = FeatureStore.create(path)
    with store.writer(run="test") as writer:
        writer.declare_feature("synthetic", {"extractor": "synthetic"}, dim=8, dtype="float32")
        for row, trailer in enumerate(data.ids):
            n = int(data.masks["synthetic"][row].sum())
            spans = np.stack([np.arange(n), np.arange(n) + 1.0], axis=1)
            rows = FeatureRows(data.values["synthetic"][row, :n].numpy(), spans)
            writer.add(TrailerRecord(id=trailer, duration_s=float(n)), {"synthetic": rows})
    truth = data.labels.numpy() > 0.5
    names = data.label_names
    store.set_labels(names, {t: [names[c] for c in np.flatnonzero(truth[i])] for i, t in
                             enumerate(data.ids)})  # fmt: skip
    return path


def test_zero_shot_folder_through_the_commands(
    release_store: Path, expected: dict, probe: list[np.ndarray], tmp_path: Path
) -> None:
    """`zeroshot-eval` and `embed` take the 0.1 folder as they take a current one, and `embed`
    writes the embeddings that release computed."""
    from click.testing import CliRunner

    from cinefeat.cli.main import main
    from cinefeat.store import FeatureStore

    def cinefeat(*args: object) -> str:
        result = CliRunner().invoke(main, ["--quiet", *map(str, args)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    folder = RELEASE / "zeroshot"
    report = json.loads(cinefeat("zeroshot-eval", release_store, "--head", folder, "--json"))
    row = report["methods"]["zeroshot (gamma=0.5)"]
    assert row["threshold"] == pytest.approx(expected["zeroshot"]["threshold"])
    assert 0.0 <= row["mean_ap"] <= 1.0
    cinefeat("embed", release_store, "--head", folder, "--name", "legacy", "--device", "cpu")
    values, _, offsets = FeatureStore.open(release_store).load_feature("legacy")
    first = [values[slice(*offsets[t])][0] for t in expected["ids"]]
    np.testing.assert_allclose(first, expected["zeroshot"]["embedding"], atol=1e-5)


def test_a_folder_without_format_is_read_only_by_a_head_that_wrote_one(tmp_path: Path) -> None:
    """Format 0 is the 0.1 zero-shot layout; an mlp folder never lacked `format`."""
    import shutil

    from cinefeat.fuse.checkpoint import CheckpointError

    shutil.copytree(RELEASE / "mlp", tmp_path / "mlp")
    config = json.loads((tmp_path / "mlp" / "config.json").read_text())
    del config["format"]
    (tmp_path / "mlp" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"no format version.*re-save"):
        load_head(tmp_path / "mlp")
