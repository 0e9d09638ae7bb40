"""Labels merge into a store: shards add up, a conflict names both sources, concurrent merges."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cinefeat.store import FeatureStore
from cinefeat.store.errors import LabelError
from cinefeat.store.labels import read_label_sources


def named(store: FeatureStore) -> dict[str, list[str]]:
    names, vectors = store.labels()
    return {tid: [names[i] for i in np.flatnonzero(v)] for tid, v in vectors.items()}


def test_shards_add_up_and_equal_overlap_is_fine(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    assert store.merge_labels({"a": ["Drama"], "b": []}, {"a": "s0.csv:2", "b": "s0.csv:3"}) == (
        2,
        0,
    )
    added = store.merge_labels(
        {"c": ["Comedy"], "a": ["Drama"]}, {"c": "s1.csv:2", "a": "s1.csv:3"}
    )
    assert added == (1, 1)
    reopened = FeatureStore.open(tmp_path / "s")
    assert reopened.labels()[0] == ["Comedy", "Drama"]
    assert named(reopened) == {"a": ["Drama"], "b": [], "c": ["Comedy"]}
    # the first file to label an id stays its source
    assert read_label_sources(reopened.root) == {"a": "s0.csv:2", "b": "s0.csv:3", "c": "s1.csv:2"}


def test_conflict_names_the_id_and_both_sources_and_writes_nothing(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    store.merge_labels({"a": ["Drama"], "b": ["Horror"]}, {"a": "s0.csv:2", "b": "s0.csv:3"})
    with pytest.raises(LabelError) as error:
        store.merge_labels({"a": ["Comedy"], "z": ["Western"]}, {"a": "s1.csv:7", "z": "s1.csv:8"})
    assert str(error.value) == (
        "1 trailer is already labelled differently in the store: 'a': ['Drama'] from s0.csv:2, "
        "['Comedy'] from s1.csv:7. Fix the labels file, or replace the store's labels with it "
        "(cinefeat extract --replace-labels)"
    )
    assert named(FeatureStore.open(tmp_path / "s")) == {"a": ["Drama"], "b": ["Horror"]}


def test_labels_set_without_sources_still_merge(tmp_path: Path) -> None:
    store = FeatureStore.create(tmp_path / "s")
    store.set_labels(["Horror", "Drama"], {"a": ["Drama"]})  # an API user's own order
    store.merge_labels({"b": ["Action"]}, {"b": "new.csv:2"})
    assert store.labels()[0] == ["Horror", "Drama", "Action"]  # kept, new names appended
    assert named(store) == {"a": ["Drama"], "b": ["Action"]}
    with pytest.raises(LabelError, match=r"\['Drama'\] from labels stored earlier, \['X'\] from"):
        store.merge_labels({"a": ["X"]}, {"a": "new.csv:3"})


MERGER = """
import sys, time
from pathlib import Path
from cinefeat.store import FeatureStore
store_path, shard, barrier = sys.argv[1], sys.argv[2], Path(sys.argv[3])
while not barrier.exists():
    time.sleep(0.01)
for batch in range(6):
    ids = {f"{shard}-{batch}-{i}": [f"G{shard}"] for i in range(3)}
    FeatureStore.open(store_path).merge_labels(ids, {t: f"{shard}.csv:{batch}" for t in ids})
"""


def test_concurrent_merges_from_four_shards_lose_nothing(tmp_path: Path) -> None:
    """Shard runs start together; without the lock their read-merge-write cycles overwrite."""
    FeatureStore.create(tmp_path / "s")
    barrier = tmp_path / "go"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MERGER, str(tmp_path / "s"), str(k), str(barrier)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    time.sleep(1.0)  # let every process reach the barrier (imports take a moment)
    barrier.write_text("go")
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    labels = named(FeatureStore.open(tmp_path / "s"))
    assert len(labels) == 4 * 6 * 3
    assert all(genres == [f"G{tid[0]}"] for tid, genres in labels.items())
