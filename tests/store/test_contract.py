"""Both stores satisfy the contract (`store/contract.py`) and refuse the same bad writes.

The assignments below are what `mypy` checks in CI (a method missing from one class, or with
another signature, is a type error there); the tests run the same calls on both classes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord
from cinefeat.store.contract import ExtractionStore, StoreReader, StoreWriter
from cinefeat.store.errors import FeatureDeclarationError, RowsError
from cinefeat.store.memory import MemoryStore

PROVENANCE = {"extractor": "toy", "model": "m1", "config": {"k": 1}}


def _zarr(tmp_path: Path) -> ExtractionStore:
    store: ExtractionStore = FeatureStore.create(tmp_path / "s.zarr")
    return store


def _memory(tmp_path: Path) -> ExtractionStore:
    store: ExtractionStore = MemoryStore()
    return store


STORES: dict[str, Callable[[Path], ExtractionStore]] = {"zarr": _zarr, "memory": _memory}


def _rows(n: int, dim: int = 4) -> FeatureRows:
    values = np.arange(n * dim, dtype=np.float32).reshape(n, dim)
    return FeatureRows(values, np.stack([np.arange(n), np.arange(n) + 1.0], axis=1))


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ExtractionStore:
    return STORES[request.param](tmp_path)


def test_both_classes_are_the_protocols(store: ExtractionStore) -> None:
    assert isinstance(store, StoreReader) and isinstance(store, ExtractionStore)
    writer = store.writer(run="r", run_config={"features": ["toy"]})
    assert isinstance(writer, StoreWriter)
    writer.close()
    assert store.run_configs()["r"] == {"features": ["toy"]}


def test_the_same_reads_after_the_same_writes(store: ExtractionStore) -> None:
    with store.writer(run="r") as writer:
        writer.declare_feature("toy", PROVENANCE, dim=4, dtype="float32")
        writer.add(TrailerRecord("b"), {"toy": _rows(3)})
        writer.add(TrailerRecord("a"))
    store.refresh()
    assert store.ids() == ["a", "b"] and store.features() == ["toy"]
    assert store.has("b", "toy") and not store.has("a", "toy")
    np.testing.assert_array_equal(store.get("b", "toy").values, _rows(3).values)
    assert store.provenance("toy")["dim"] == 4


BAD_WRITES: dict[str, tuple[type[Exception], str, Callable[[StoreWriter], None]]] = {
    "bad feature name": (
        Exception,
        "feature",
        lambda w: w.declare_feature("a/b", PROVENANCE, dim=4),
    ),
    "unsupported dtype": (
        FeatureDeclarationError,
        "dtype 'int8' is not supported",
        lambda w: w.declare_feature("toy", PROVENANCE, dim=4, dtype="int8"),
    ),
    "zero dim": (
        FeatureDeclarationError,
        "dim must be positive",
        lambda w: w.declare_feature("toy", PROVENANCE, dim=0),
    ),
    "not a record": (
        TypeError,
        "needs a TrailerRecord",
        lambda w: w.add("a", None),  # type: ignore[arg-type]
    ),
    "wrong dim": (
        RowsError,
        "rows have dim 3",
        lambda w: w.add(TrailerRecord("a"), {"toy": _rows(2, 3)}),
    ),
    "texts not one per row": (
        RowsError,
        "1 texts for 2 rows",
        lambda w: w.add(
            TrailerRecord("a"), {"toy": FeatureRows(_rows(2).values, _rows(2).spans, [{}])}
        ),
    ),
    "not rows": (
        TypeError,
        "expected FeatureRows",
        lambda w: w.add(TrailerRecord("a"), {"toy": _rows(2).values}),  # type: ignore[dict-item]
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_WRITES))
def test_both_writers_refuse_the_same_bad_writes(store: ExtractionStore, case: str) -> None:
    error, message, write = BAD_WRITES[case]
    writer = store.writer(run="r")
    if not case.startswith(("bad feature", "unsupported", "zero")):
        writer.declare_feature("toy", PROVENANCE, dim=4, dtype="float32")
    with pytest.raises(error, match=message):
        write(writer)
    writer.close()
    store.refresh()
    assert store.ids() == []  # nothing of a refused write is visible


def test_a_closed_writer_refuses_more_trailers(store: ExtractionStore) -> None:
    writer = store.writer(run="r")
    writer.close()
    with pytest.raises(RowsError, match="closed"):
        writer.add(TrailerRecord("a"))
