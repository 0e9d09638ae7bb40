"""Hypothesis round trips: random ragged data, labels and a split in, identical data out, through
parts, compaction and HDF5 (and HDF5 of the compacted store)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_testkit import PROVENANCE, assert_rows_equal

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord
from cinefeat.store.compact import compact
from cinefeat.store.hdf5 import export_hdf5, import_hdf5

SPECIAL = np.array([0.0, -0.0, 65504.0, -65504.0, 6e-8, 1e-3], dtype=np.float32)


@st.composite
def ragged_stores(draw):
    """{feature: (dim, dtype, keeps_texts)}, and per trailer {feature: (n_rows, seed)} + part."""
    n_features = draw(st.integers(1, 3))
    features = {
        f"f{k}": (
            draw(st.integers(1, 12)),
            draw(st.sampled_from(["float16", "float32"])),
            draw(st.booleans()),
        )
        for k in range(n_features)
    }
    n_trailers = draw(st.integers(0, 12))
    ids = draw(
        st.lists(
            st.text("abcxyz/_-.é0123", min_size=1, max_size=8),
            min_size=n_trailers,
            max_size=n_trailers,
            unique=True,
        )
    )
    trailers = []
    for tid in ids:
        present = draw(st.lists(st.sampled_from(sorted(features)), unique=True, max_size=3))
        rows = {f: (draw(st.integers(0, 20)), draw(st.integers(0, 2**31))) for f in present}
        trailers.append((tid, rows, draw(st.integers(0, 2)), draw(st.booleans())))
    chunk = draw(st.sampled_from([1, 3, 16, None]))
    label_names = draw(st.lists(st.sampled_from(["Drama", "Comedy", "Ünï"]), unique=True))
    labels = {}
    for tid in ids:  # some trailers unlabelled, some with no label at all
        if label_names and draw(st.booleans()):
            labels[tid] = draw(st.lists(st.sampled_from(label_names), unique=True))
    subsets = {tid: draw(st.sampled_from(["train", "val", "test"])) for tid in ids}
    return features, trailers, chunk, (label_names, labels, subsets)


def _rows(dim: int, dtype: str, texts: bool, n: int, seed: int) -> FeatureRows:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((n, dim)).astype(np.float32) * 10
    special = rng.random((n, dim)) < 0.1
    values[special] = rng.choice(SPECIAL, size=int(special.sum()))
    spans = np.sort(rng.uniform(0, 300, (n, 2)), axis=1)
    text = [{"text": f"{seed}:{i} ünï", "conf": float(rng.random())} for i in range(n)]
    return FeatureRows(values.astype(dtype), spans, text if texts else None)


def _write(path: Path, features, trailers, chunk, annotations) -> dict:
    store = FeatureStore.create(path)
    label_names, labels, subsets = annotations
    expected: dict[str, dict[str, FeatureRows]] = {}
    writers = {}
    for tid, rows, part, commit_after in trailers:
        if part not in writers:
            writers[part] = store.writer(run=f"p{part}")
            for name, (dim, dtype, _) in features.items():
                writers[part].declare_feature(
                    name, provenance=PROVENANCE, dim=dim, dtype=dtype, row_chunk=chunk
                )
        made = {f: _rows(*features[f], n, seed) for f, (n, seed) in rows.items()}
        writers[part].add(TrailerRecord(id=tid, duration_s=float(len(tid))), made)
        expected[tid] = made
        if commit_after:
            writers[part].commit()
    for writer in writers.values():
        writer.close()
    if label_names:
        store.set_labels(label_names, labels)
    split: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for tid, subset in subsets.items():
        split[subset].append(tid)
    store.set_split("random", split)
    return expected


def _check(store: FeatureStore, expected: dict, annotations) -> None:
    label_names, labels, subsets = annotations
    names, multi_hot = store.labels()
    assert names == label_names and set(multi_hot) == (set(labels) if label_names else set())
    for tid, hot in multi_hot.items():
        assert [n for n, bit in zip(names, hot, strict=True) if bit] == [
            n for n in label_names if n in labels[tid]
        ]
    assert store.splits() == {
        "random": {
            subset: sorted(t for t, s in subsets.items() if s == subset)
            for subset in ("train", "val", "test")
        }
    }
    assert store.ids() == sorted(expected)
    for tid, feats in expected.items():
        got = store[tid]
        assert got.keys() == feats.keys()
        for name, rows in feats.items():
            assert_rows_equal(got[name], rows)
        assert store.record(tid).duration_s == float(len(tid))
    for name in store.features():
        values, spans, offsets = store.load_feature(name)
        assert set(offsets) == {t for t, f in expected.items() if name in f}
        for tid, (a, b) in offsets.items():
            np.testing.assert_array_equal(values[a:b], expected[tid][name].values)
            np.testing.assert_array_equal(spans[a:b], expected[tid][name].spans)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ragged_stores(), st.sampled_from([None, 4, 32]))
def test_round_trip_through_parts_compaction_and_hdf5(case, rows_per_shard) -> None:
    features, trailers, chunk, annotations = case
    folder = Path(tempfile.mkdtemp(prefix="cinefeat-prop-"))
    try:
        expected = _write(folder / "s", features, trailers, chunk, annotations)
        _check(FeatureStore.open(folder / "s"), expected, annotations)
        h5 = export_hdf5(FeatureStore.open(folder / "s"), folder / "s.h5")
        _check(
            import_hdf5(h5, folder / "back", rows_per_shard=rows_per_shard), expected, annotations
        )
        store = FeatureStore.open(folder / "s")
        compact(store, rows_per_shard=rows_per_shard, force=True)
        _check(FeatureStore.open(folder / "s"), expected, annotations)
        # and on through HDF5 from the compacted store: parts -> compaction -> HDF5 -> store
        h5 = export_hdf5(FeatureStore.open(folder / "s"), folder / "compacted.h5")
        _check(import_hdf5(h5, folder / "again"), expected, annotations)
    finally:
        shutil.rmtree(folder)
