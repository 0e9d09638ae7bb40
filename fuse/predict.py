"""Predict from plain arrays: the one call other components (and users) need at inference.

`predict_arrays(head, {"clip": [array (n_i, 512), ...], ...})` pads each feature to the head's
max length, averages the features the head was trained averaged, standardises with the head's
statistics and returns probabilities (N, C) — no store, no training code involved.

Before predicting on features from elsewhere, `check_feature_provenance(head, {name:
provenance})` refuses features made by another extractor or configuration than the head's training
features (see `cinefeat.fuse.provenance`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from cinefeat.fuse.data import DataError, pad_sequences, prepare_inputs
from cinefeat.fuse.heads import Head
from cinefeat.fuse.provenance import (  # noqa: F401  (re-exported for `cinefeat predict`)
    ProvenanceMismatchError,
    check_feature_provenance,
)


@torch.no_grad()
def predict_arrays(
    head: Head, features: Mapping[str, Sequence[np.ndarray]], batch_size: int = 64
) -> np.ndarray:
    missing = [f for f in head.feature_names if f not in features]
    if missing:
        raise DataError(f"head needs features {head.feature_names}; missing {missing}")
    counts = {len(features[f]) for f in head.feature_names}
    if len(counts) != 1:
        raise DataError("every feature needs one array per trailer (got different counts)")
    count = counts.pop()
    for spec in head.features:
        shapes = {tuple(np.shape(a)) for a in features[spec.name]}
        wrong = sorted(s for s in shapes if len(s) != 2 or s[1] != spec.dim)
        if wrong:
            raise DataError(
                f"feature {spec.name!r} needs one (n, {spec.dim}) array per trailer (the head "
                f"was trained on {spec.dim}-d rows), got shapes {wrong[:3]}: extract it with "
                "the extractor recorded in the head's features.json"
            )
    device = next(head.parameters()).device
    head.eval()
    outputs = []
    for start in range(0, count, batch_size):
        inputs, masks = {}, {}
        for spec in head.features:
            rows = [
                np.asarray(a, dtype=np.float32)
                for a in features[spec.name][start : start + batch_size]
            ]
            inputs[spec.name], masks[spec.name] = pad_sequences(
                rows, spec.max_len, average=spec.averaged, dtype=np.float32
            )
        inputs, masks = prepare_inputs(inputs, masks, head.normalization, device)
        outputs.append(head.predict_proba(inputs, masks).float().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, head.num_labels), np.float32)


def top_labels(head: Head, probabilities: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
    """The k most probable labels per trailer, as (name, probability)."""
    order = np.argsort(-probabilities, axis=1)[:, :k]
    return [
        [(head.label_names[c], float(row[c])) for c in cols]
        for row, cols in zip(probabilities, order, strict=True)
    ]
