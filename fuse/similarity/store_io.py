"""Trailer embeddings in and out of the store.

An embedding is stored as a feature like any other (one row per trailer, span = the whole
trailer) so that it travels in archives, is validated, and can feed another head. Its provenance
names the head folder, the head's weights hash and the features it read, so `cinefeat similar`
can tell embeddings of different heads apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.fuse.heads import Head
from cinefeat.fuse.similarity.search import CosineIndex, SimilarityError

EMBED_EXTRACTOR = "cinefeat.fuse.embed"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embedding_provenance(
    head_dir: Path, head: Head, store: Any, features: Sequence[str]
) -> dict[str, Any]:
    return {
        "extractor": EMBED_EXTRACTOR,
        "head": head.name,
        "head_dir": str(head_dir),
        "weights_sha256": file_sha256(head_dir / "model.safetensors"),
        "layer": "embed (before the classifier)",
        "inputs": {f: store.provenance(f).get("config_hash") for f in features},
        "sampling": "one row per trailer",
    }


def write_embeddings(
    store: Any,
    name: str,
    ids: Sequence[str],
    vectors: np.ndarray,
    provenance: dict[str, Any],
    run: str = "embed",
) -> int:
    """One row per trailer under feature `name`; each trailer keeps its existing record."""
    from cinefeat.store import FeatureRows

    vectors = np.asarray(vectors, dtype=np.float32)
    with store.writer(run=run, worker="0") as writer:
        writer.declare_feature(
            name, provenance=provenance, dim=int(vectors.shape[1]), dtype="float32"
        )
        for trailer, vector in zip(ids, vectors, strict=True):
            record = store.record(trailer)
            duration = record.duration_s or 0.0
            record.feature_status = {**record.feature_status, name: "ok"}
            writer.add(record, {name: FeatureRows(vector[None], [[0.0, duration]])})
        writer.commit()
    return len(ids)


def embedding_features(store: Any) -> list[str]:
    """Features of the store written by `cinefeat embed`."""
    return [f for f in store.features() if store.provenance(f).get("extractor") == EMBED_EXTRACTOR]


def load_index(store: Any, feature: str | None = None) -> tuple[CosineIndex, str]:
    """A cosine index over one vector per trailer (a multi-row feature is averaged per trailer)."""
    if feature is None:
        candidates = embedding_features(store)
        if len(candidates) != 1:
            raise SimilarityError(
                "no embedding feature in the store: run `cinefeat embed STORE --head DIR` first"
                if not candidates
                else f"several embedding features {candidates}: choose one with --feature"
            )
        feature = candidates[0]
    if feature not in store.features():
        raise SimilarityError(
            f"feature {feature!r} is not in the store (it has {store.features()}): "
            "run `cinefeat embed` or pick another --feature"
        )
    values, _spans, offsets = store.load_feature(feature)
    ids = sorted(t for t, (start, stop) in offsets.items() if stop > start)
    vectors = (
        np.stack(
            [values[offsets[t][0] : offsets[t][1]].astype(np.float32).mean(axis=0) for t in ids]
        )
        if ids
        else np.zeros((0, values.shape[1]), np.float32)
    )
    return CosineIndex(ids, vectors), feature
