"""Label embeddings: the text side of the zero-shot head, computed by an injected encoder.

`cinefeat.fuse` never imports `cinefeat.extract` (where the text encoders live), so the caller
passes `label_encoder(texts) -> (n, d)` and this module decides what to encode: the paper embeds a
multi-word label as the mean of its word embeddings ("space opera" = mean(e(space), e(opera)));
`multiword="sentence"` encodes the whole name at once instead, which sentence encoders such as
all-MiniLM-L6-v2 are trained for. The result travels as a small safetensors file that records the
encoder, so a head is never scored with embeddings from another text model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cinefeat.store.errors import CinefeatError

LabelEncoder = Callable[[list[str]], np.ndarray]
Multiword = Literal["mean", "sentence"]

_WORD = re.compile(r"[\w']+")


class LabelEmbeddingError(CinefeatError, ValueError):
    """Label embeddings that do not fit a head or each other; the message names the fix."""


@dataclass
class LabelEmbeddings:
    """Label names, their embeddings (C, d) float32, and how they were made (encoder provenance)."""

    names: list[str]
    vectors: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.names):
            raise LabelEmbeddingError(
                f"{len(self.names)} names need vectors of shape ({len(self.names)}, d), "
                f"got {self.vectors.shape}"
            )
        if len(set(self.names)) != len(self.names):
            raise LabelEmbeddingError(f"duplicate label names in {self.names}")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def select(self, names: Sequence[str]) -> LabelEmbeddings:
        position = {name: i for i, name in enumerate(self.names)}
        unknown = [n for n in names if n not in position]
        if unknown:
            raise LabelEmbeddingError(
                f"labels {unknown} have no embedding: re-embed the label list including them"
            )
        rows = [position[n] for n in names]
        return LabelEmbeddings(list(names), self.vectors[rows], dict(self.provenance))

    def save(self, path: str | Path) -> None:
        """One safetensors file; names and provenance in its string metadata (no pickle)."""
        from safetensors.numpy import save_file

        metadata = {"names": json.dumps(self.names), "provenance": json.dumps(self.provenance)}
        save_file({"vectors": np.ascontiguousarray(self.vectors)}, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> LabelEmbeddings:
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise LabelEmbeddingError(
                f"{path} does not exist: write label embeddings with `LabelEmbeddings.save` "
                "(or `embed_label_names(...)`) first"
            )
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            vectors = handle.get_tensor("vectors")
        if "names" not in metadata:
            raise LabelEmbeddingError(f"{path} has no label names in its metadata")
        return cls(
            json.loads(metadata["names"]), vectors, json.loads(metadata.get("provenance", "{}"))
        )


def split_label_names(text: str) -> list[str]:
    """'heist, space opera,coming-of-age' -> ['heist', 'space opera', 'coming-of-age']."""
    names = [part.strip() for part in text.split(",")]
    names = [name for name in names if name]
    if not names:
        raise LabelEmbeddingError(f"no label names in {text!r}: separate labels with commas")
    return list(dict.fromkeys(names))


def label_words(name: str) -> list[str]:
    """The words of a label name: 'Sci-Fi' -> ['Sci', 'Fi'], 'coming-of-age' -> 3 words."""
    words = _WORD.findall(name.replace("_", " "))
    return words or [name]


def embed_label_names(
    names: Sequence[str],
    label_encoder: LabelEncoder,
    multiword: Multiword = "mean",
    provenance: dict[str, Any] | None = None,
) -> LabelEmbeddings:
    """Embed label names with `label_encoder`; multi-word labels by `multiword` (see module doc).

    Every distinct word (or name) is encoded once, in one call, so a GPU encoder sees one batch.
    """
    names = list(names)
    if multiword not in ("mean", "sentence"):
        raise LabelEmbeddingError(f"multiword must be 'mean' or 'sentence', got {multiword!r}")
    pieces = {name: (label_words(name) if multiword == "mean" else [name]) for name in names}
    unique = list(dict.fromkeys(piece for parts in pieces.values() for piece in parts))
    encoded = np.asarray(label_encoder(unique), dtype=np.float32)
    if encoded.ndim != 2 or len(encoded) != len(unique):
        raise LabelEmbeddingError(
            f"label_encoder returned shape {encoded.shape} for {len(unique)} texts; it must "
            "return one vector per text, (n, d)"
        )
    row = {piece: i for i, piece in enumerate(unique)}
    vectors = np.stack([encoded[[row[p] for p in pieces[name]]].mean(axis=0) for name in names])
    record = dict(provenance or {})
    record["multiword"] = multiword
    return LabelEmbeddings(names, vectors, record)


def token_mean_encoder(token_encoder: Any) -> LabelEncoder:
    """A `LabelEncoder` from a token encoder of the text registry (BERT-style label embedding).

    `token_encoder.encode(texts)` must return an object with `values` (n_tokens, d) and
    `line_of` (n_tokens,) (the extract component's `EncodedTokens`), and `token_encoder.dim` the
    vector size. A text's embedding is the mean of its word-piece tokens. Duck-typed, so fuse
    does not import extract.
    """

    def encode(texts: list[str]) -> np.ndarray:
        tokens = token_encoder.encode(list(texts))
        values, line_of = np.asarray(tokens.values, np.float32), np.asarray(tokens.line_of)
        out = np.zeros((len(texts), int(token_encoder.dim)), dtype=np.float32)
        for i in range(len(texts)):
            rows = values[line_of == i]
            if len(rows) == 0:
                raise LabelEmbeddingError(f"the text encoder found no token in {texts[i]!r}")
            out[i] = rows.mean(axis=0)
        return out

    return encode
