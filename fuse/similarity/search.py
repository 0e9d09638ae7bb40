"""Exact cosine nearest neighbours over trailer embeddings.

Exact search is fast enough for a trailer collection: 100k trailers x 512 dims is one 200 MB float32
matrix and one matrix-vector product per query (a few ms on a laptop CPU, see
benchmarks/similarity_bench.py), so no approximate index, its build step or its recall loss is
needed. Rows are L2-normalised once, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cinefeat.store.errors import CinefeatError


class SimilarityError(CinefeatError, ValueError):
    """A query the index cannot answer; the message names the fix."""


@dataclass(frozen=True)
class Neighbour:
    id: str
    similarity: float


class CosineIndex:
    """ids + unit-norm float32 rows; `query` returns the k most similar trailers, best first."""

    def __init__(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise SimilarityError(
                f"{len(ids)} ids need a ({len(ids)}, D) matrix of embeddings, got {vectors.shape}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.ids = list(ids)
        self.vectors = vectors / np.maximum(norms, 1e-12)
        self._row = {trailer: i for i, trailer in enumerate(self.ids)}
        if len(self._row) != len(self.ids):
            raise SimilarityError("duplicate trailer ids in the index")

    def __len__(self) -> int:
        return len(self.ids)

    def vector(self, trailer: str) -> np.ndarray:
        if trailer not in self._row:
            raise SimilarityError(
                f"trailer {trailer!r} has no embedding: run `cinefeat embed` for it first"
            )
        return self.vectors[self._row[trailer]]

    def query_vectors(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows (Q, k), similarities (Q, k)) for Q query vectors, best first."""
        if k < 1:
            raise SimilarityError(f"k must be at least 1, got {k}")
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        similarity = queries @ self.vectors.T
        k = min(k, len(self))
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        top_sim = np.take_along_axis(similarity, top, axis=1)
        order = np.argsort(-top_sim, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_sim, order, axis=1)

    def similar(self, trailer: str, k: int = 10) -> list[Neighbour]:
        """The k trailers most similar to `trailer` (itself excluded)."""
        if k < 1:
            raise SimilarityError(f"k must be at least 1, got {k}")
        rows, sims = self.query_vectors(self.vector(trailer)[None], k + 1)
        own = self._row[trailer]
        found = [Neighbour(self.ids[r], float(s)) for r, s in zip(rows[0], sims[0], strict=True)]
        return [n for n in found if self._row[n.id] != own][:k]
