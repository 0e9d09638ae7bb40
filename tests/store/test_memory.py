"""`MemoryStore`: the writer contract of the on-disk store, held in memory."""

from __future__ import annotations

import numpy as np
import pytest

from cinefeat.store import FeatureRows, TrailerRecord
from cinefeat.store.errors import FeatureDeclarationError, RowsError
from cinefeat.store.memory import MemoryStore

PROVENANCE = {"extractor": "toy", "model": "m1", "config": {"k": 1}}


def rows(n: int, dim: int = 4) -> FeatureRows:
    values = np.arange(n * dim, dtype=np.float32).reshape(n, dim) / 7
    spans = np.stack([np.arange(n), np.arange(n) + 1.0], axis=1)
    return FeatureRows(values, spans, [{"text": f"line {i}"} for i in range(n)])


def test_commit_makes_trailers_visible_with_their_rows() -> None:
    store = MemoryStore()
    with store.writer() as writer:
        writer.declare_feature("toy", PROVENANCE, dim=4, dtype="float16")
        writer.add(TrailerRecord("b"), {"toy": rows(3)})
        writer.add(TrailerRecord("a", feature_status={"toy": "missing: no audio stream"}))
        assert store.ids() == [] and writer.pending == 2  # nothing visible before the commit
    assert store.ids() == ["a", "b"]
    assert store.has("b", "toy") and not store.has("a", "toy")
    got = store.get("b", "toy")
    assert got.values.dtype == np.float16
    np.testing.assert_array_equal(got.values, rows(3).values.astype(np.float16))
    assert store.texts("b", "toy")[2] == {"text": "line 2"}
    assert store.record("a").feature_status["toy"].startswith("missing")
    assert store.provenance("toy")["model"] == "m1"
    assert store.provenance("toy")["dim"] == 4
    with pytest.raises(KeyError, match="no trailer 'c'"):
        store.record("c")


def test_writer_refuses_what_the_disk_store_refuses() -> None:
    store = MemoryStore()
    writer = store.writer()
    with pytest.raises(FeatureDeclarationError, match="was not declared"):
        writer.add(TrailerRecord("a"), {"toy": rows(1)})
    writer.declare_feature("toy", PROVENANCE, dim=4)
    with pytest.raises(RowsError, match="dim 5"):
        writer.add(TrailerRecord("a"), {"toy": rows(2, dim=5)})
    writer.add(TrailerRecord("a"), {"toy": rows(0)})  # zero rows are valid
    with pytest.raises(RowsError, match="already added"):
        writer.add(TrailerRecord("a"), {"toy": rows(1)})
    writer.commit()
    assert len(store.get("a", "toy")) == 0
    again = store.writer()
    again.declare_feature("toy", PROVENANCE, dim=4)
    again.add(TrailerRecord("a"), {"toy": rows(1)})
    with pytest.raises(RowsError, match="already has committed rows"):
        again.commit()
    assert len(store.get("a", "toy")) == 0  # nothing of the refused commit landed
    other = store.writer()
    with pytest.raises(FeatureDeclarationError, match="different provenance"):
        other.declare_feature("toy", {**PROVENANCE, "model": "m2"}, dim=4)
