"""Builders shared by the store tests (imported as a plain module; no fixtures hidden here)."""

from __future__ import annotations

import numpy as np

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord

PROVENANCE = {"extractor": "test", "model": "random", "weights_sha256": None, "layer": "none"}


def rows_for(seed: int, n: int, dim: int, texts: bool = False) -> FeatureRows:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((n, dim)).astype(np.float16)
    starts = np.sort(rng.uniform(0, 100, n))
    spans = np.stack([starts, starts + 0.5], axis=1)
    text = [{"text": f"line {seed}-{i}", "score": 0.5} for i in range(n)] if texts else None
    return FeatureRows(values, spans, text)


def write_trailers(
    store: FeatureStore,
    ids: list[str],
    run: str = "run",
    worker: str = "0",
    dims: dict[str, int] | None = None,
    commit_every: int = 0,
) -> dict[str, dict[str, FeatureRows]]:
    """Write `ids` with deterministic rows (seeded by position); returns what was written."""
    dims = dims or {"clip": 8, "ocr": 4}
    written: dict[str, dict[str, FeatureRows]] = {}
    with store.writer(run=run, worker=worker) as writer:
        for name, dim in dims.items():
            writer.declare_feature(name, provenance=PROVENANCE, dim=dim)
        for i, tid in enumerate(ids):
            seed = sum(map(ord, tid))
            feats = {
                name: rows_for(seed + k, (seed + k) % 7, dim, texts=(name == "ocr"))
                for k, (name, dim) in enumerate(dims.items())
            }
            writer.add(
                TrailerRecord(id=tid, source_path=f"/m/{tid}.mp4", duration_s=1.0 + i),
                features=feats,
            )
            written[tid] = feats
            if commit_every and (i + 1) % commit_every == 0:
                writer.commit()
    return written


def assert_rows_equal(a: FeatureRows, b: FeatureRows) -> None:
    np.testing.assert_array_equal(a.values, b.values)
    assert a.values.dtype == b.values.dtype
    np.testing.assert_array_equal(a.spans, b.spans)
    assert a.texts == b.texts


def expected_rows(trailer_id: str, dim: int = 6) -> FeatureRows:
    """The rows every test process writes for `trailer_id` (a pure function of the id)."""
    seed = sum((i + 1) * ord(c) for i, c in enumerate(trailer_id))
    return rows_for(seed, seed % 9, dim, texts=True)
