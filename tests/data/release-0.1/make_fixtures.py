"""Remake the head folders of this directory (run from the repository root, see README.md).

Written for, and run once with, cinefeat at commit d471b14 (main before issue 20): the folders
are what that release wrote, so later code must keep loading them. Rerunning it with a later
cinefeat makes folders of that later format, which is not the point of this test data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from cinefeat.fuse.zeroshot.synthetic import SyntheticSpec, make_synthetic
from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord

HERE = Path(__file__).parent
PROBE = 6  # trailers whose rows and predictions are kept


def cinefeat(*args: object) -> None:
    subprocess.run([sys.executable, "-m", "cinefeat.cli.main", *map(str, args)], check=True)


def main() -> None:
    root = Path(tempfile.mkdtemp())
    data, embeddings = make_synthetic(SyntheticSpec(n_trailers=120, n_groups=6, seed=7))
    store = FeatureStore.create(root / "store.zarr")
    rows = {}
    with store.writer(run="fixture") as writer:
        writer.declare_feature("synthetic", {"extractor": "synthetic"}, dim=8, dtype="float32")
        for i, trailer in enumerate(data.ids):
            n = int(data.masks["synthetic"][i].sum())
            rows[trailer] = data.inputs["synthetic"][i, :n].float().numpy()
            spans = np.stack([np.arange(n), np.arange(n) + 1.0], axis=1)
            writer.add(
                TrailerRecord(id=trailer, duration_s=float(n)),
                {"synthetic": FeatureRows(rows[trailer], spans)},
            )
    truth = data.targets.numpy() > 0.5
    store.set_labels(
        data.label_names,
        {
            t: [data.label_names[c] for c in np.flatnonzero(truth[i])]
            for i, t in enumerate(data.ids)
        },
    )
    embeddings.save(root / "labels.safetensors")
    cinefeat("split", root / "store.zarr", "--kind", "sorted-id")
    for name in ("mlp", "zeroshot"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    cinefeat(
        "train", root / "store.zarr", "--head", "mlp", "--features", "synthetic",
        "--out", HERE / "mlp", "--epochs", "1", "--set", "hidden=16", "--device", "cpu",
    )  # fmt: skip
    cinefeat(
        "zeroshot-train", root / "store.zarr", "--features", "synthetic",
        "--label-embeddings", root / "labels.safetensors", "--out", HERE / "zeroshot",
        "--epochs", "1", "--joint-dim", "16", "--device", "cpu",
    )  # fmt: skip
    shutil.rmtree(HERE / "mlp" / "checkpoints", ignore_errors=True)  # resume state: not needed
    probe = sorted(rows)[:PROBE]
    np.savez(HERE / "probe.npz", **{f"row{i}": rows[t] for i, t in enumerate(probe)})
    record_expected(probe, [rows[t] for t in probe])
    shutil.rmtree(root)


def record_expected(ids: list[str], sequences: list[np.ndarray]) -> None:
    """Predictions of both heads on the probe trailers, by the API of that release."""
    import torch

    from cinefeat.fuse.checkpoint import load_head
    from cinefeat.fuse.predict import predict_arrays
    from cinefeat.fuse.zeroshot.checkpoint import load_zero_shot
    from cinefeat.fuse.zeroshot.data import pad_sequences
    from cinefeat.fuse.zeroshot.labels import LabelEmbeddings

    head = load_head(HERE / "mlp")
    mlp = predict_arrays(head, {"synthetic": sequences})
    zero_shot = load_zero_shot(HERE / "zeroshot")
    labels = LabelEmbeddings.load(HERE / "zeroshot" / "store_label_embeddings.safetensors")
    max_len = zero_shot.features["synthetic"]["max_len"]
    values, mask = pad_sequences(sequences, 8, max_len)
    with torch.no_grad():
        scores = zero_shot.model.score(
            {"synthetic": values}, {"synthetic": mask}, torch.as_tensor(labels.vectors)
        )
        embedding = zero_shot.model.embed({"synthetic": values}, {"synthetic": mask})
    expected = {
        "ids": ids,
        "mlp": {"labels": head.label_names, "probabilities": mlp.tolist()},
        "zeroshot": {
            "labels": labels.names,
            "threshold": zero_shot.threshold,
            "max_len": max_len,
            "scores": scores.tolist(),
            "embedding": embedding.tolist(),
        },
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
