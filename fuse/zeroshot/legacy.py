"""Reading the zero-shot head folder of cinefeat 0.1 (format 0) as a current head folder.

Release 0.1 wrote zero-shot heads in their own layout, before the zero-shot model was a `Head`:

    config.json                    {"head": "zeroshot", "config": {feature_dims, feature_order,
                                    label_dim, ...}, "threshold": M}      (no "format" key)
    model.safetensors              weights, float32 buffers mean_<f> / std_<f>, label_embeddings
    labels.json                    the training label names
    label_embeddings.safetensors   training labels + the text encoder's provenance (metadata)
    features.json                  {feature: {dim, max_len, provenance}}

`read_v0_folder` turns those files into what `cinefeat.fuse.checkpoint.load_head` reads from a
current folder, so both layouts end in the same head: the standardisation buffers become the
head's `normalization` (they were applied inside the model; `prepare_inputs` applies them now, in
the same float32 arithmetic), M becomes the `threshold` buffer, the encoder's provenance goes to
`provenance["labels"]`, and each feature's record becomes a `FeatureSpec` with its max length.
Folders from before release 0.1 are not readable (tests/fuse/test_release_folders.py keeps one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

OLD_FILES = ("config.json", "model.safetensors", "labels.json", "label_embeddings.safetensors")
# fields of the 0.1 config that are now FeatureSpecs (dims, order) rather than config options
MOVED = ("feature_dims", "feature_order")


def read_v0_folder(folder: str | Path, record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a 0.1 zero-shot folder: config, features document, labels, state, stats."""
    from cinefeat.fuse.checkpoint import CheckpointError, read_tensors
    from cinefeat.fuse.zeroshot.labels import LabelEmbeddingError, LabelEmbeddings

    folder = Path(folder)
    missing = [name for name in OLD_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(
            f"{folder} is a zero-shot head folder of cinefeat 0.1 without {missing}: copy the "
            "folder again or retrain with `cinefeat zeroshot-train`"
        )
    try:
        old = dict(record["config"])
        dims, order = old["feature_dims"], old.get("feature_order") or sorted(old["feature_dims"])
        threshold = float(record["threshold"])
        labels = json.loads((folder / "labels.json").read_text())
        embeddings = LabelEmbeddings.load(folder / "label_embeddings.safetensors")
        features_path = folder / "features.json"
        recorded = json.loads(features_path.read_text()) if features_path.is_file() else {}
    except (KeyError, TypeError, ValueError, LabelEmbeddingError) as error:
        raise CheckpointError(
            f"{folder}: the files of this 0.1 zero-shot head do not fit together "
            f"({type(error).__name__}: {error}); copy the folder again or retrain"
        ) from error
    state = read_tensors(folder, "model.safetensors")
    normalization = {}
    for name in order:
        mean, std = state.pop(f"mean_{name}", None), state.pop(f"std_{name}", None)
        if mean is None or std is None:
            raise CheckpointError(
                f"{folder / 'model.safetensors'} has no standardisation of feature {name!r}: "
                "copy the folder again or retrain"
            )
        normalization[name] = (mean.double(), std.double())
    state["threshold"] = torch.tensor(threshold, dtype=torch.float32)
    specs = []
    for name in order:
        spec = recorded.get(name) or {}
        # 0.1 padded to the recorded max length; without one it kept every row
        specs.append({"name": name, "dim": int(dims[name]), "max_len": spec.get("max_len") or 0})
    provenance = {
        "features": {name: (recorded.get(name) or {}).get("provenance") or {} for name in order},
        "labels": dict(embeddings.provenance),
        "data": {"format": 0},
    }
    config = {key: value for key, value in old.items() if key not in MOVED}
    return {
        "config": config,
        "features": {"features": specs, "average": [], "provenance": provenance},
        "labels": labels,
        "state": state,
        "normalization": normalization,
    }
