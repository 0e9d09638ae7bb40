"""Predict from plain arrays: the one call other components (and users) need at inference.

`predict_arrays(head, {"clip": [array (n_i, 512), ...], ...})` pads each feature to its longest
trailer (whole-trailer inference: every row counts, none is cut at the head's training
`max_len`; each head's `predict_proba` decides how to read a long trailer), averages the
features the head was trained averaged, standardises with the head's statistics and returns
probabilities (N, C) — no store, no training code involved. It runs the very path `evaluate`
runs on store rows (`pad_for_head` -> `predict_padded`), so both see the same inputs.

Before predicting on features from elsewhere, `check_feature_provenance(head, {name:
provenance})` refuses features made by another extractor or configuration than the head's training
features (see `cinefeat.fuse.provenance`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from cinefeat.fuse.data import DataError, PaddedFeatures, prepare_inputs
from cinefeat.fuse.heads import Head
from cinefeat.fuse.provenance import (  # noqa: F401  (re-exported for `cinefeat predict`)
    ProvenanceMismatchError,
    check_feature_provenance,
)


def pad_for_head(
    head: Head, features: Mapping[str, Sequence[np.ndarray]], ids: Sequence[str] | None = None
) -> PaddedFeatures:
    """Arrays of N trailers -> the head's `PaddedFeatures`: every row, its averaging.

    The same padding (`pad_sequences` with `max_len=None`, in the arrays' own storage dtype)
    that `cinefeat evaluate` applies to store rows, so a trailer's rows give the same
    probabilities either way. Rows past the head's training `max_len` are kept: Sulun et al.
    and DIViTA score whole trailers, and a cut trailer would ignore most of a long one.
    """
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
    names = [str(i) for i in ids] if ids is not None else [f"#{i}" for i in range(count)]
    if len(names) != count:
        raise DataError(f"{len(names)} ids for {count} trailers")
    sequences = {spec.name: [np.asarray(a) for a in features[spec.name]] for spec in head.features}
    return PaddedFeatures.from_sequences(
        sequences,
        np.zeros((count, head.num_labels), dtype=np.float32),
        names,
        None,
        [spec.name for spec in head.features if spec.averaged],
    )


def trim_padding(
    inputs: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Cut each feature of a batch to the longest real sequence *of that batch*.

    Whole-trailer data is padded to the longest trailer of the set; without this, every batch
    would pay attention (quadratic in length) for the one longest trailer. Heads mask padding,
    so the probabilities do not change.
    """
    trimmed, trimmed_masks = {}, {}
    for name, mask in masks.items():
        real = torch.nonzero(mask.any(dim=0)).flatten()
        length = int(real[-1]) + 1 if len(real) else 1
        trimmed[name], trimmed_masks[name] = inputs[name][:, :length], mask[:, :length]
    return trimmed, trimmed_masks


@torch.no_grad()
def predict_padded(head: Head, data: PaddedFeatures, batch_size: int = 64) -> np.ndarray:
    """Probabilities (N, C) of `head` on `data`, in eval mode, with the head's standardisation.

    The one scoring path of `train` (validation), `tune`, `evaluate` and `predict`. Non-finite
    inputs or probabilities are errors naming the trailer: a NaN must never reach a metric or a
    JSON answer as if it were a score. A seed ensemble (`head.ensemble_members`, `--ensemble
    K`) scores the mean of its members' probabilities, each with its own standardisation.
    """
    data.require_finite("the head cannot score it")
    members = [head, *head.ensemble_members]
    device = next(head.parameters()).device
    was_training = [member.training for member in members]
    for member in members:
        member.eval()
    outputs = []
    try:
        for inputs, masks, _ in data.batches(batch_size):
            inputs, masks = trim_padding(inputs, masks)
            probabilities = []
            for member in members:
                ready, ready_masks = prepare_inputs(inputs, masks, member.normalization, device)
                probabilities.append(member.predict_proba(ready, ready_masks).float().cpu())
            outputs.append(torch.stack(probabilities).mean(dim=0))
    finally:
        for member, mode in zip(members, was_training, strict=True):
            member.train(mode)
    scores = torch.cat(outputs).numpy() if outputs else np.zeros((0, head.num_labels), np.float32)
    bad = np.flatnonzero(~np.isfinite(scores).all(axis=1))
    if len(bad):
        raise DataError(
            f"head {head.name!r} gave non-finite probabilities for {len(bad)} of {len(scores)} "
            f"trailers, e.g. {data.ids[bad[0]]!r}, from finite inputs: its weights or "
            "normalisation statistics are not finite; retrain the head"
        )
    return scores


def predict_arrays(
    head: Head,
    features: Mapping[str, Sequence[np.ndarray]],
    batch_size: int = 64,
    ids: Sequence[str] | None = None,
) -> np.ndarray:
    names = head.feature_names
    if all(f in features for f in names) and not any(len(features[f]) for f in names):
        return np.zeros((0, head.num_labels), np.float32)  # zero trailers: nothing to pad
    return predict_padded(head, pad_for_head(head, features, ids), batch_size)


def top_labels(head: Head, probabilities: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
    """The k most probable labels per trailer, as (name, probability)."""
    order = np.argsort(-probabilities, axis=1)[:, :k]
    return [
        [(head.label_names[c], float(row[c])) for c in cols]
        for row, cols in zip(probabilities, order, strict=True)
    ]
