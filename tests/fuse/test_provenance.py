"""A head remembers which extractor made its training features and refuses other features."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, SMALL_CONFIGS, make_store, tiny_sequences, tiny_specs

from cinefeat.fuse.data import DataError
from cinefeat.fuse.heads import Head, build_head
from cinefeat.fuse.predict import (
    ProvenanceMismatchError,
    check_feature_provenance,
    predict_arrays,
)
from cinefeat.fuse.provenance import provenance_mismatches, trained_provenance

CLIP = {
    "extractor": "clip",
    "model": "ViT-B-32",
    "weights_sha256": "a" * 64,
    "dim": 12,
    "dtype": "float16",
    "config_hash": "1" * 64,
    "cinefeat_version": "0.1.0",
}


def test_identical_or_volatile_differences_pass_and_real_ones_are_named() -> None:
    trained = {"clip": CLIP}
    assert provenance_mismatches(trained, {"clip": dict(CLIP)}) == []
    patch_release = {**CLIP, "cinefeat_version": "0.1.1", "dtype": "float32"}
    assert provenance_mismatches(trained, {"clip": patch_release}) == []
    other_model = {**CLIP, "model": "ViT-L-14", "config_hash": "2" * 64}
    (problem,) = provenance_mismatches(trained, {"clip": other_model})
    assert problem.startswith("clip: model: trained 'ViT-B-32', given 'ViT-L-14'")
    # no config hash on one side: the keys both sides have decide
    fresh = {"extractor": "clip", "model": "ViT-L-14"}
    assert provenance_mismatches(trained, {"clip": fresh}) == [
        "clip: model: trained 'ViT-B-32', given 'ViT-L-14'"
    ]
    assert provenance_mismatches(trained, {}) == ["clip: no provenance given for this feature"]
    # only the hash differs (keys missing on one side): still refused
    assert provenance_mismatches(trained, {"clip": {"config_hash": "3" * 64}}) == [
        "clip: the configuration hash differs"
    ]


def test_a_head_trained_on_a_store_checks_that_stores_provenance(tmp_path: Path) -> None:
    from cinefeat.fuse.runs import DataOptions, load_split, train_head
    from cinefeat.fuse.splits import sorted_id_split
    from cinefeat.fuse.train import TrainConfig

    store = make_store(tmp_path / "store.zarr")
    store.set_split("sorted-id", sorted_id_split(store.ids()))
    options = DataOptions(features=["clip", "audiotag"])
    data = load_split(store, options)
    train_head(store, data, options, "mlp", {"hidden": 8}, TrainConfig(epochs=1), tmp_path / "h")
    loaded = Head.from_pretrained(tmp_path / "h")
    recorded = trained_provenance(loaded)
    assert recorded["clip"] == store.provenance("clip")
    assert recorded["clip"]["extractor"] == "synthetic-clip" and recorded["clip"]["config_hash"]
    check_feature_provenance(loaded, {f: store.provenance(f) for f in ("clip", "audiotag")})
    swapped = {"clip": store.provenance("audiotag"), "audiotag": store.provenance("audiotag")}
    with pytest.raises(
        ProvenanceMismatchError, match=r"clip: .*extractor: trained 'synthetic-clip'"
    ):
        check_feature_provenance(loaded, swapped)
    assert isinstance(ProvenanceMismatchError("x"), DataError)


def test_a_head_without_recorded_provenance_accepts_anything() -> None:
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"])
    assert trained_provenance(head) == {"clip": {}, "audiotag": {}}
    check_feature_provenance(head, {})


def test_zero_shot_head_provenance_is_checked_too() -> None:
    from cinefeat.fuse.heads import FeatureSpec

    head = build_head("zeroshot", [FeatureSpec("clip", 12, 0)], ["a"], {"label_dim": 3})
    head.provenance = {"features": {"clip": CLIP}}
    assert trained_provenance(head) == {"clip": CLIP}
    check_feature_provenance(head, {"clip": CLIP})
    with pytest.raises(ProvenanceMismatchError, match="weights_sha256"):
        check_feature_provenance(
            head, {"clip": {**CLIP, "weights_sha256": "b" * 64, "config_hash": "9" * 64}}
        )


def test_predict_arrays_names_a_wrong_feature_size() -> None:
    torch.manual_seed(0)
    head = build_head("mlp", tiny_specs(), LABELS, SMALL_CONFIGS["mlp"]).eval()
    sequences, _, _ = tiny_sequences(4)
    assert predict_arrays(head, sequences).shape == (4, 3)
    wrong = {**sequences, "clip": [np.zeros((5, 512), np.float32)] * 4}
    with pytest.raises(DataError, match=r"'clip' needs one \(n, 12\) array.*\(5, 512\)"):
        predict_arrays(head, wrong)
