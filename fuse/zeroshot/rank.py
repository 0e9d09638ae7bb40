"""Scoring and ranking arbitrary label names: the engine of `cinefeat predict --labels`.

The caller embeds the label names (it owns the text encoder) and passes the sequences of the
trailer; the head scores every label through temporal attention. Scores are the fused p_c, not
probabilities: compare them with each other or with the head's threshold M.

Inputs reach the head as they do in training and evaluation: padded by `PaddedFeatures` (cut to
the head's lengths by its crop), standardised by `prepare_inputs` with the head's statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from cinefeat.fuse.data import PaddedFeatures, prepare_inputs
from cinefeat.fuse.zeroshot.labels import (
    LabelEmbeddingError,
    LabelEmbeddings,
    LabelEncoder,
    embed_label_names,
    split_label_names,
)
from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot


@torch.no_grad()
def predict_scores(
    head: TemporalAttentionZeroShot,
    data: PaddedFeatures,
    label_vectors: np.ndarray | Tensor,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """p (N, C) for every trailer of `data` and every row of `label_vectors` (C, label_dim)."""
    device = torch.device(device) if device is not None else next(head.parameters()).device
    head.eval()
    labels = torch.as_tensor(np.asarray(label_vectors, dtype=np.float32), device=device)
    out = []
    for inputs, masks, _ in data.batches(batch_size):
        inputs, masks = prepare_inputs(inputs, masks, head.normalization, device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            out.append(head.score(inputs, masks, labels).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, len(labels)), dtype=np.float32)


def _ranked(scores: np.ndarray, names: list[str]) -> list[list[tuple[str, float]]]:
    ranked = []
    for row in scores.tolist():
        order = sorted(range(len(names)), key=lambda c, row=row: -row[c])
        ranked.append([(names[c], float(row[c])) for c in order])
    return ranked


def head_rows(
    head: TemporalAttentionZeroShot, rows: Mapping[str, Sequence[np.ndarray]]
) -> PaddedFeatures:
    """`{feature: [array (n_i, d) per trailer]}` padded as the head reads a store."""
    for spec in head.features:
        if spec.name not in rows:
            raise LabelEmbeddingError(
                f"the head needs feature {spec.name!r} of the trailer; extract it first"
            )
        for values in rows[spec.name]:
            shape = np.shape(values)
            if len(shape) != 2 or shape[1] != spec.dim:
                raise LabelEmbeddingError(
                    f"feature {spec.name!r} needs (n, {spec.dim}) rows, got {shape}: extract it "
                    "with the extractor recorded in the head's features.json"
                )
    sequences = {spec.name: [np.asarray(v) for v in rows[spec.name]] for spec in head.features}
    count = len(next(iter(sequences.values())))
    return PaddedFeatures.from_sequences(
        sequences,
        np.zeros((count, 0), dtype=np.float32),
        [f"#{i}" for i in range(count)],
        {spec.name: spec.max_len for spec in head.features},
        head.average,
        head.config.crop,
    )


def rank_labels_batch(
    head: TemporalAttentionZeroShot,
    rows: Mapping[str, Sequence[np.ndarray]],
    label_embeddings: LabelEmbeddings,
    label_names: Sequence[str] | None = None,
) -> list[list[tuple[str, float]]]:
    """For each trailer (`rows[feature][i]`, as extracted), [(label, score)] best first."""
    head.check_encoder(label_embeddings)
    names = list(label_names) if label_names is not None else label_embeddings.names
    vectors = label_embeddings.select(names).vectors
    return _ranked(predict_scores(head, head_rows(head, rows), vectors), names)


def rank_labels(
    head: TemporalAttentionZeroShot,
    rows: Mapping[str, np.ndarray],
    label_embeddings: LabelEmbeddings,
    label_names: Sequence[str] | None = None,
) -> list[tuple[str, float]]:
    """[(label, score)] for ONE trailer (`rows[feature]` an (n, d) array), best label first."""
    return rank_labels_batch(
        head, {f: [np.asarray(v)] for f, v in rows.items()}, label_embeddings, label_names
    )[0]


def rank_label_names(
    head: TemporalAttentionZeroShot,
    rows: Mapping[str, np.ndarray],
    label_names: str | Sequence[str],
    label_encoder: LabelEncoder,
    encoder: str | None = None,
) -> list[tuple[str, float]]:
    """One call for `cinefeat predict --labels "heist, space opera"` on one trailer.

    `rows` holds the trailer's feature rows `{feature: (n, d)}` as extracted; `label_encoder` must
    be the text encoder named in `head.label_provenance["encoder"]` (the labels are embedded the
    way the training labels were: same multi-word rule). Pass that encoder's name as `encoder` to
    have it checked: another name is refused with a `LabelEmbeddingError`.
    """
    names = split_label_names(label_names) if isinstance(label_names, str) else list(label_names)
    provenance = head.label_provenance
    trained = provenance.get("encoder")
    if encoder is not None and trained and encoder != trained:
        raise LabelEmbeddingError(
            f"labels would be embedded with {encoder!r} but this head was trained with "
            f"{trained!r}: embed them with {trained!r}"
        )
    multiword = provenance.get("multiword", "mean")
    embeddings = embed_label_names(names, label_encoder, multiword, provenance)
    return rank_labels(head, rows, embeddings)
