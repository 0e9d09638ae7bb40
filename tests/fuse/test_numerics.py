"""Numbers that cannot lie: NaN/inf inputs, losses, gradients, heads and JSON are refused or named,
evaluate and predict see the same inputs, broken head folders are refused, and `split` leaves
out trailers that cannot be trained on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, SMALL_CONFIGS, tiny_data, tiny_sequences, tiny_specs

from cinefeat.fuse.checkpoint import CheckpointError, load_head
from cinefeat.fuse.data import DataError, PaddedFeatures, fit_normalization
from cinefeat.fuse.heads import build_head
from cinefeat.fuse.predict import predict_arrays
from cinefeat.fuse.train import NonFiniteTrainingError, TrainConfig, fit, predict_proba
from cinefeat.store.jsonout import json_text

FAST = TrainConfig(epochs=3, lr=3e-3, batch_size=16, pos_weight=1.0, patience=10, device="cpu")


def strict_json(text: str):
    """json.loads that refuses NaN/Infinity, as JavaScript, jq and RFC 8259 do."""

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def mlp(normalized_on: PaddedFeatures | None = None):
    torch.manual_seed(0)
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])
    if normalized_on is not None:
        head.normalization = fit_normalization(normalized_on)
    return head


# --- training stops, naming feature, trailer and epoch --------------------------------------------


def test_nan_input_stops_training_before_epoch_0_naming_feature_and_trailer() -> None:
    train = tiny_data(48, seed=1)
    train.values["clip"][5, 0, 3] = float("nan")  # a real row (every clip sequence has >= 1)
    with pytest.raises(
        NonFiniteTrainingError, match=r"feature 'clip' of trailer 't005'.*NaN.*before epoch 0"
    ):
        fit(mlp(), train, tiny_data(24, seed=2), FAST)


def test_non_finite_loss_names_the_epoch_and_the_trailers() -> None:
    head = mlp(tiny_data(48, seed=1))
    calls = {"n": 0}
    loss = head.loss

    def failing_loss(*args):
        calls["n"] += 1
        value = loss(*args)
        return value * float("nan") if calls["n"] == 7 else value  # 3 batches an epoch

    head.loss = failing_loss
    with pytest.raises(NonFiniteTrainingError, match=r"the loss is not finite at epoch 2 .*'t0"):
        fit(head, tiny_data(48, seed=1), tiny_data(24, seed=2), FAST)


def test_non_finite_gradient_stops_training_in_float32() -> None:
    head = mlp(tiny_data(48, seed=1))
    next(head.parameters()).register_hook(lambda grad: grad * float("inf"))
    with pytest.raises(NonFiniteTrainingError, match=r"the gradient is not finite at epoch 0"):
        fit(head, tiny_data(48, seed=1), tiny_data(24, seed=2), FAST)


def test_overflow_after_standardisation_blames_the_feature() -> None:
    train = tiny_data(48, seed=1)
    head = mlp(train)
    mean, std = head.normalization["audiotag"]
    head.normalization["audiotag"] = (mean, torch.full_like(std, 1e-40))  # x / 1e-40 overflows
    with pytest.raises(
        NonFiniteTrainingError, match=r"loss is not finite at epoch 0.*feature 'audiotag'"
    ):
        fit(head, train, tiny_data(24, seed=2), FAST)


# --- one input path; NaN heads --------------------------------------------------------------------


def test_evaluate_and_predict_see_the_same_inputs_from_a_store(tmp_path: Path) -> None:
    """A float32 store feature reaching 103,512 (as one real benchmark's): evaluate padded it to
    float16 (inf, then an all-NaN head), predict to float32; now both take the same path."""
    from cinefeat.fuse.runs import DataOptions, load_split, train_head
    from cinefeat.fuse.splits import sorted_id_split
    from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord

    sequences, labels, ids = tiny_sequences(40, seed=0)
    store = FeatureStore.create(tmp_path / "s.zarr")
    with store.writer(run="t", worker="0") as writer:
        writer.declare_feature("clip", {"extractor": "synthetic"}, dim=12, dtype="float32")
        for row, trailer in enumerate(ids):
            values = sequences["clip"][row].copy()
            values[:, -1] = 103_512.0 + row  # a large, uninformative column
            rows = FeatureRows(values, np.zeros((len(values), 2)))
            writer.add(TrailerRecord(id=trailer, status="ok"), features={"clip": rows})
    store.set_labels(LABELS, {t: labels[i] for i, t in enumerate(ids)})
    store.set_split("sorted-id", sorted_id_split(ids))
    store = FeatureStore.open(tmp_path / "s.zarr")
    options = DataOptions(features=["clip"])
    data = load_split(store, options)
    head, result = train_head(store, data, options, "mlp", {"hidden": 16}, FAST, None)
    assert np.isfinite(result.best_val_ap)
    evaluated = predict_proba(head, data.test)
    arrays = {"clip": [store.get(t, "clip").values for t in data.test.ids]}
    assert np.isfinite(evaluated).all()
    assert np.array_equal(predict_arrays(head, arrays), evaluated)


def test_a_nan_head_is_refused_when_predicting_and_when_loading(tmp_path: Path) -> None:
    head = mlp(tiny_data(48, seed=1))
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.fill_(float("nan"))
    sequences, _, _ = tiny_sequences(4, seed=3)
    with pytest.raises(DataError, match=r"non-finite probabilities for 4 of 4 trailers"):
        predict_arrays(head, sequences)
    head.save_pretrained(tmp_path / "nan")
    with pytest.raises(CheckpointError, match=r"model.safetensors holds non-finite values"):
        load_head(tmp_path / "nan")


def test_nan_input_to_predict_names_the_trailer() -> None:
    head = mlp(tiny_data(48, seed=1))
    sequences, _, _ = tiny_sequences(3, seed=3)
    sequences["audiotag"] = [np.ones((2, 6), np.float32)] * 3
    sequences["audiotag"][1] = np.full((2, 6), np.inf, np.float32)
    with pytest.raises(DataError, match=r"feature 'audiotag' of trailer 'b'.*\(inf\)"):
        predict_arrays(head, sequences, ids=["a", "b", "c"])


# --- head folders that are not whole ----------------------------------------------------------


@pytest.fixture
def head_dir(tmp_path: Path) -> Path:
    return mlp(tiny_data(48, seed=1)).save_pretrained(tmp_path / "head")


def test_missing_normalization_is_refused(head_dir: Path) -> None:
    """It used to predict silently on unstandardised inputs."""
    (head_dir / "normalization.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"missing \['normalization.safetensors'\]"):
        load_head(head_dir)


def test_truncated_weights_are_refused_naming_the_file(head_dir: Path) -> None:
    data = (head_dir / "model.safetensors").read_bytes()
    (head_dir / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model.safetensors is not a readable safetensors"):
        load_head(head_dir)


def test_statistics_of_one_feature_missing_are_refused(head_dir: Path) -> None:
    from safetensors.torch import load_file, save_file

    stats = load_file(str(head_dir / "normalization.safetensors"))
    save_file(
        {k: v for k, v in stats.items() if not k.startswith("clip.")},
        str(head_dir / "normalization.safetensors"),
    )
    with pytest.raises(CheckpointError, match=r"no statistics for features \['clip'\]"):
        load_head(head_dir)


def test_whole_folders_load_with_float64_statistics(head_dir: Path, tmp_path: Path) -> None:
    head = load_head(head_dir)
    assert head.normalization["clip"][0].dtype == torch.float64
    raw = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])  # --no-normalize
    raw.provenance = {"data": {"normalize": False}}
    assert load_head(raw.save_pretrained(tmp_path / "raw")).normalization == {}


# --- JSON --------------------------------------------------------------------------------------


def test_json_output_has_null_for_undefined_numbers(tmp_path: Path) -> None:
    from cinefeat.fuse.metrics import evaluate
    from cinefeat.fuse.report import write_report

    assert json_text({"a": float("nan"), "b": [np.float32(np.inf), 1.5]}) == (
        '{\n  "a": null,\n  "b": [\n    null,\n    1.5\n  ]\n}'
    )
    y = np.zeros((4, 3), dtype=int)
    y[0, 0] = 1  # labels 1 and 2 have no positive: their AP is undefined
    scores = np.random.default_rng(0).random((4, 3))
    result = evaluate(y, scores, LABELS)
    result.summary["ap_samples"] = float("nan")
    write_report(tmp_path, result, y, scores, LABELS)
    metrics = strict_json((tmp_path / "metrics.json").read_text())
    assert metrics["summary"]["ap_samples"] is None


def test_train_json_without_validation_split_is_valid_json(tmp_path: Path) -> None:
    from fuse_helpers import make_store

    from cinefeat.cli.main import main

    make_store(tmp_path / "s.zarr", count=30)
    ids = sorted(f"t{i:03d}" for i in range(30))
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ids[:24], "val": [], "test": ids[24:]}))
    args = ["--quiet", "train", str(tmp_path / "s.zarr"), "--arch", "mlp", "--features", "clip"]
    args += ["--out", str(tmp_path / "h"), "--split-file", str(split), "--epochs", "2", "--json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert strict_json(result.output)["best_val_ap_macro"] is None  # was a bare NaN
    history = strict_json((tmp_path / "h" / "history.json").read_text())
    assert history["history"][0]["val_ap"] is None


# --- split leaves out what cannot be trained on --------------------------------------------------


def test_split_leaves_out_failed_trailers_and_ids_without_features(tmp_path: Path) -> None:
    """6 of 18 trailers in one real test were failed or featureless and went into the splits."""
    from cinefeat.cli.main import main
    from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord

    store = FeatureStore.create(tmp_path / "s.zarr")
    ids = [f"t{i:02d}" for i in range(18)]
    with store.writer(run="t", worker="0") as writer:
        writer.declare_feature("clip", {"extractor": "synthetic"}, dim=4)
        writer.declare_feature("audio", {"extractor": "synthetic"}, dim=2)
        for i, trailer in enumerate(ids[:16]):
            if i < 3:  # a zero-byte file: the record is failed, no rows
                record = TrailerRecord(id=trailer, status="failed", stage="decode", error="empty")
                writer.add(record, features={})
                continue
            rows = {"clip": FeatureRows(np.ones((2, 4)), np.zeros((2, 2)))}
            if i >= 5:  # t03 and t04 have no audio rows
                rows["audio"] = FeatureRows(np.ones((1, 2)), np.zeros((1, 2)))
            writer.add(TrailerRecord(id=trailer, status="ok"), features=rows)
    # t16 and t17 are labelled but were never extracted
    store.set_labels(LABELS, {t: np.array([1, 0, 1], np.uint8) for t in ids})

    def split(*extra: str) -> tuple[dict, str]:
        args = ["--quiet", "split", str(tmp_path / "s.zarr"), "--kind", "sorted-id", *extra]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        stored = FeatureStore.open(tmp_path / "s.zarr").splits()["sorted-id"]
        return stored, result.stderr

    stored, said = split()
    kept = sorted(t for subset in stored.values() for t in subset)
    assert kept == ids[3:16]
    assert "left out 5 of 18" in said and "3 extraction failed" in said
    assert "2 no record in the store" in said
    stored, said = split("--features", "clip,audio")
    assert sorted(t for subset in stored.values() for t in subset) == ids[5:16]
    assert "left out 7 of 18" in said and "2 no audio rows" in said
    stored, _ = split("--features", "clip,audio", "--partial")
    assert sorted(t for subset in stored.values() for t in subset) == ids[3:16]
