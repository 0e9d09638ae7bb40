"""The commands on a real Zarr store: embed, similar, suggest, similarity-tune, zeroshot-*."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.fuse.checkpoint import save_head
from cinefeat.fuse.heads import FeatureSpec, build_head
from cinefeat.fuse.zeroshot.synthetic import SyntheticSpec, make_synthetic
from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A store of 240 synthetic trailers (feature `synthetic`, 36 labels) and an mlp head."""
    root = tmp_path_factory.mktemp("cli")
    data, embeddings = make_synthetic(SyntheticSpec(n_trailers=240, seed=3))
    store = FeatureStore.create(root / "store.zarr")
    with store.writer(run="test") as writer:
        writer.declare_feature("synthetic", {"extractor": "synthetic"}, dim=8, dtype="float32")
        for i, trailer in enumerate(data.ids):
            n = int(data.masks["synthetic"][i].sum())
            spans = np.stack([np.arange(n), np.arange(n) + 1.0], axis=1)
            values = data.values["synthetic"][i, :n].numpy()
            writer.add(
                TrailerRecord(id=trailer, duration_s=float(n)),
                {"synthetic": FeatureRows(values, spans)},
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
    head = build_head("mlp", [FeatureSpec("synthetic", 8, 40)], data.label_names, {"hidden": 16})
    head.normalization = {"synthetic": (data.values["synthetic"].mean((0, 1)), torch.ones(8))}
    save_head(head, root / "head")
    return {"root": root, "store": root / "store.zarr", "head": root / "head"}


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, ["--quiet", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_embed_then_similar(workspace: dict[str, Path]) -> None:
    out = invoke("embed", workspace["store"], "--head", workspace["head"], "--device", "cpu")
    assert "wrote 240 embeddings (16-d) as feature 'embed-head'" in out
    store = FeatureStore.open(workspace["store"])
    provenance = store.provenance("embed-head")
    assert (
        provenance["extractor"] == "cinefeat.fuse.embed" and len(provenance["weights_sha256"]) == 64
    )
    assert store.record("synthetic/00000").duration_s is not None  # record kept
    found = json.loads(
        invoke("similar", workspace["store"], "synthetic/00000", "-k", "5", "--json")
    )
    assert found["feature"] == "embed-head"
    neighbours = found["neighbours"]
    assert len(neighbours) == 5 and "synthetic/00000" not in [n["id"] for n in neighbours]
    sims = [n["similarity"] for n in neighbours]
    assert sims == sorted(sims, reverse=True)


def test_similar_without_embeddings_names_the_fix(workspace: dict[str, Path], tmp_path) -> None:
    empty = FeatureStore.create(tmp_path / "empty.zarr")
    del empty
    result = CliRunner().invoke(main, ["similar", str(tmp_path / "empty.zarr"), "x"])
    assert result.exit_code != 0 and "cinefeat embed STORE --head DIR" in result.output


def test_suggest_lists_confident_missing_labels(workspace: dict[str, Path]) -> None:
    rows = json.loads(
        invoke(
            "suggest",
            workspace["store"],
            "--head",
            workspace["head"],
            "--threshold",
            "0.3",
            "--json",
            "--device",
            "cpu",
        )
    )
    store = FeatureStore.open(workspace["store"])
    names, labels = store.labels()
    assert rows, "an untrained head predicts ~0.5 everywhere: suggestions expected"
    for row in rows[:50]:
        assert row["probability"] >= 0.3
        assert labels[row["id"]][names.index(row["label"])] == 0


def test_zeroshot_train_and_eval(workspace: dict[str, Path]) -> None:
    out_dir = workspace["root"] / "zs"
    invoke(
        "zeroshot-train",
        workspace["store"],
        "--features",
        "synthetic",
        "--label-embeddings",
        workspace["root"] / "labels.safetensors",
        "--out",
        out_dir,
        "--epochs",
        "3",
        "--joint-dim",
        "16",
        "--batch-size",
        "16",
        "--device",
        "cpu",
        "--compare",
    )
    compared = (out_dir / "report.md").read_text()
    assert "| attention gamma=0.5 |" in compared and "| uniform gamma=0 |" in compared
    split = json.loads((out_dir / "zeroshot_split.json").read_text())
    assert not set(split["labels"]["test"]) & set(split["labels"]["train"])
    report = json.loads(invoke("zeroshot-eval", workspace["store"], "--head", out_dir, "--json"))
    assert set(report["methods"]) == {"zs (gamma=0.5)", "zero rule"}
    assert sorted(report["methods"]["zero rule"]["per_label_ap"]) == sorted(split["labels"]["test"])
    embedded = invoke("embed", workspace["store"], "--head", out_dir, "--name", "zs-embed")
    assert "as feature 'zs-embed'" in embedded


def test_similarity_tune_writes_head_and_report(workspace: dict[str, Path]) -> None:
    from cinefeat.fuse.checkpoint import load_head

    out_dir = workspace["root"] / "tuned"
    out = invoke(
        "similarity-tune",
        workspace["store"],
        "--head",
        workspace["head"],
        "--out",
        out_dir,
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--device",
        "cpu",
    )
    assert "silhouette (cosine, primary label)" in out
    answer = json.loads(invoke("similarity-tune", workspace["store"], "--head", workspace["head"],
                               "--out", out_dir.with_name("tuned-json"), "--epochs", "1",
                               "--device", "cpu", "--json"))  # fmt: skip
    assert answer["out"] == str(out_dir.with_name("tuned-json")) and "silhouette_after" in answer
    report = json.loads((out_dir / "similarity_report.json").read_text())
    assert {"silhouette_before", "silhouette_after", "nt_xent_per_epoch"} <= set(report)
    assert len(report["nt_xent_per_epoch"]) == 2 and -1 <= report["silhouette_after"] <= 1
    assert (out_dir / "map_after.png").read_bytes()[:4] == b"\x89PNG"
    assert load_head(out_dir).feature_names == ["synthetic"]
