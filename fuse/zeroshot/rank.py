"""Ranking arbitrary label names for one trailer: the engine of `cinefeat predict --labels`.

The caller embeds the label names (it owns the text encoder) and passes the sequences of the
trailer; the head scores every label through temporal attention. Scores are the fused p_c, not
probabilities: compare them with each other or with the head's threshold M.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from cinefeat.fuse.zeroshot.checkpoint import ZeroShotHead
from cinefeat.fuse.zeroshot.data import pad_sequences
from cinefeat.fuse.zeroshot.labels import (
    LabelEmbeddingError,
    LabelEmbeddings,
    LabelEncoder,
    embed_label_names,
    split_label_names,
)
from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot


def _batched(inputs: dict[str, Tensor], masks: dict[str, Tensor]):
    """Accept one trailer as (L, d) / (L,) or a batch as (B, L, d) / (B, L)."""
    inputs = {f: torch.as_tensor(v, dtype=torch.float32) for f, v in inputs.items()}
    masks = {f: torch.as_tensor(m, dtype=torch.bool) for f, m in masks.items()}
    if all(v.ndim == 2 for v in inputs.values()):
        inputs = {f: v.unsqueeze(0) for f, v in inputs.items()}
        masks = {f: m.unsqueeze(0) for f, m in masks.items()}
    return inputs, masks


@torch.no_grad()
def rank_labels_batch(
    head_or_model: ZeroShotHead | TemporalAttentionZeroShot,
    inputs: dict[str, Tensor],
    masks: dict[str, Tensor],
    label_embeddings: np.ndarray | LabelEmbeddings,
    label_names: Sequence[str] | None = None,
) -> list[list[tuple[str, float]]]:
    """For each trailer of the batch, [(label, score)] sorted by decreasing score."""
    if isinstance(label_embeddings, LabelEmbeddings):
        if isinstance(head_or_model, ZeroShotHead):
            head_or_model.check_encoder(label_embeddings)
        names = list(label_names) if label_names is not None else label_embeddings.names
        vectors = label_embeddings.select(names).vectors
    else:
        if label_names is None:
            raise LabelEmbeddingError("pass label_names with a bare array of label embeddings")
        names, vectors = list(label_names), np.asarray(label_embeddings, dtype=np.float32)
    if len(names) != len(vectors):
        raise LabelEmbeddingError(f"{len(names)} label names for {len(vectors)} embeddings")
    model = head_or_model.model if isinstance(head_or_model, ZeroShotHead) else head_or_model
    model.eval()
    device = next(model.parameters()).device
    inputs, masks = _batched(inputs, masks)
    scores = model.score(
        {f: v.to(device) for f, v in inputs.items()},
        {f: m.to(device) for f, m in masks.items()},
        torch.as_tensor(vectors, device=device),
    ).cpu()
    ranked = []
    for row in scores.tolist():
        order = sorted(range(len(names)), key=lambda c, row=row: -row[c])
        ranked.append([(names[c], float(row[c])) for c in order])
    return ranked


def rank_labels(
    head_or_model: ZeroShotHead | TemporalAttentionZeroShot,
    inputs: dict[str, Tensor],
    masks: dict[str, Tensor],
    label_embeddings: np.ndarray | LabelEmbeddings,
    label_names: Sequence[str] | None = None,
) -> list[tuple[str, float]]:
    """[(label, score)] for ONE trailer (inputs (L, d) or (1, L, d)), best label first."""
    ranked = rank_labels_batch(head_or_model, inputs, masks, label_embeddings, label_names)
    if len(ranked) != 1:
        raise ValueError(
            f"rank_labels scores one trailer, got a batch of {len(ranked)}: use rank_labels_batch"
        )
    return ranked[0]


def rank_label_names(
    head: ZeroShotHead,
    rows: Mapping[str, np.ndarray],
    label_names: str | Sequence[str],
    label_encoder: LabelEncoder,
    encoder: str | None = None,
) -> list[tuple[str, float]]:
    """One call for `cinefeat predict --labels "heist, space opera"` on one trailer.

    `rows` holds the trailer's feature rows `{feature: (n, d)}` as extracted; `label_encoder` must
    be the text encoder named in `head.label_embeddings.provenance["encoder"]` (the labels are
    embedded the way the training labels were: same multi-word rule). Pass that encoder's name as
    `encoder` to have it checked: another name is refused with a `LabelEmbeddingError`.
    """
    names = split_label_names(label_names) if isinstance(label_names, str) else list(label_names)
    provenance = dict(head.label_embeddings.provenance)
    trained = provenance.get("encoder")
    if encoder is not None and trained and encoder != trained:
        raise LabelEmbeddingError(
            f"labels would be embedded with {encoder!r} but this head was trained with "
            f"{trained!r}: embed them with {trained!r}"
        )
    multiword = provenance.get("multiword", "mean")
    embeddings = embed_label_names(names, label_encoder, multiword, provenance)
    inputs, masks = {}, {}
    for feature in head.model.config.feature_order:
        if feature not in rows:
            raise LabelEmbeddingError(
                f"the head needs feature {feature!r} of the trailer; extract it first"
            )
        values = np.asarray(rows[feature], dtype=np.float32)
        expected = head.model.config.feature_dims[feature]
        if values.ndim != 2 or values.shape[1] != expected:
            raise LabelEmbeddingError(
                f"feature {feature!r} needs (n, {expected}) rows, got {values.shape}: extract it "
                "with the extractor recorded in the head's features.json"
            )
        max_len = head.features.get(feature, {}).get("max_len")
        padded, mask = pad_sequences([values], values.shape[-1], max_len)
        inputs[feature], masks[feature] = padded, mask
    return rank_labels(head, inputs, masks, embeddings)
