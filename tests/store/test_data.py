"""SequenceDataset + collate + whisker_length: known answers on a small store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from store_testkit import PROVENANCE
from torch.utils.data import DataLoader

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord
from cinefeat.store.data import SequenceDataset, collate, pad_rows, whisker_length


def test_whisker_length_known_answers() -> None:
    # Q1 = 2, Q3 = 4 (numpy linear percentiles of 1..5): 4 + 1.5 * 2 = 7, capped at the max 5
    assert whisker_length([1, 2, 3, 4, 5]) == 5
    lengths = [10] * 20 + [12] * 20 + [400]  # one outlier
    # Q1 = 10, Q3 = 12 -> 12 + 3 = 15
    assert whisker_length(lengths) == 15
    assert whisker_length([]) == 1
    assert whisker_length([0, 0, 0]) == 1


def test_pad_rows_head_and_uniform() -> None:
    rows = np.arange(10, dtype=np.float32).reshape(5, 2)
    padded, mask = pad_rows(rows, 7)
    assert padded.shape == (7, 2) and mask.tolist() == [True] * 5 + [False] * 2
    np.testing.assert_array_equal(padded[5:], 0)
    head, _ = pad_rows(rows, 2)
    np.testing.assert_array_equal(head, rows[:2])
    spread, mask = pad_rows(rows, 3, truncate="uniform")
    np.testing.assert_array_equal(spread, rows[[0, 2, 4]])
    assert mask.all()


@pytest.fixture
def small_store(tmp_path: Path) -> FeatureStore:
    store = FeatureStore.create(tmp_path / "s")
    lengths = {"a": 3, "b": 1, "c": 2, "d": 30}
    with store.writer(run="r") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=2)
        writer.declare_feature("audio", provenance=PROVENANCE, dim=3)
        for tid, n in lengths.items():
            clip = np.full((n, 2), ord(tid), dtype=np.float32)
            spans = np.stack([np.arange(n), np.arange(n) + 1.0], axis=1)
            feats = {"clip": FeatureRows(clip, spans)}
            if tid != "c":  # "c" has no audio stream
                feats["audio"] = FeatureRows(
                    np.arange(6, dtype=np.float32).reshape(2, 3), [[0, 1]] * 2
                )
            writer.add(TrailerRecord(id=tid), feats)
        writer.add(TrailerRecord(id="bad", status="failed", stage="decode", error="x"))
    store.set_labels(
        ["Drama", "Comedy"], {"a": ["Drama"], "b": ["Comedy"], "c": [], "d": ["Drama"]}
    )
    store.set_split("s1", {"train": ["a", "b", "c"], "val": ["d"], "test": []})
    return store


def test_dataset_pads_masks_and_labels(small_store: FeatureStore) -> None:
    data = SequenceDataset(small_store, ["clip", "audio"], max_len={"clip": 4}, average=["audio"])
    assert data.ids == ["a", "b", "c", "d"]  # "bad" failed
    assert data.max_len == {"clip": 4, "audio": 1}
    batch = collate([data[i] for i in range(len(data))])
    assert batch["ids"] == ["a", "b", "c", "d"]
    assert (
        batch["inputs"]["clip"].shape == (4, 4, 2)
        and batch["inputs"]["clip"].dtype == torch.float32
    )
    assert batch["masks"]["clip"].sum(dim=1).tolist() == [3, 1, 2, 4]
    assert (
        batch["inputs"]["clip"][0, :3].eq(ord("a")).all()
        and batch["inputs"]["clip"][0, 3].eq(0).all()
    )
    # audio averaged to one row: mean of [[0,1,2],[3,4,5]]; "c" has no audio: masked out
    torch.testing.assert_close(batch["inputs"]["audio"][0, 0], torch.tensor([1.5, 2.5, 3.5]))
    assert batch["masks"]["audio"][:, 0].tolist() == [True, True, False, True]
    torch.testing.assert_close(batch["labels"], torch.tensor([[1.0, 0], [0, 1], [0, 0], [1, 0]]))


def test_dataset_split_subset_and_whisker(small_store: FeatureStore) -> None:
    train = SequenceDataset(small_store, ["clip"], split="s1", subset="train")
    assert train.ids == ["a", "b", "c"]
    # lengths 3, 1, 2: Q1 1.5, Q3 2.5 -> 4.0, capped at max 3
    assert train.max_len == {"clip": 3}
    val = SequenceDataset(small_store, ["clip"], split="s1", subset="val", max_len=train.max_len)
    item = val[0]
    assert (
        item["id"] == "d" and item["inputs"]["clip"].shape == (3, 2) and item["masks"]["clip"].all()
    )
    loader = DataLoader(train, batch_size=2, collate_fn=collate)
    sizes = [len(b["ids"]) for b in loader]
    assert sizes == [2, 1]


def test_dataset_from_disk_matches_in_memory(small_store: FeatureStore) -> None:
    a = SequenceDataset(small_store, ["clip", "audio"], in_memory=True)
    b = SequenceDataset(small_store, ["clip", "audio"], in_memory=False)
    for i in range(len(a)):
        for f in ("clip", "audio"):
            np.testing.assert_array_equal(a[i]["inputs"][f], b[i]["inputs"][f])


def test_dataset_errors_name_the_fix(small_store: FeatureStore) -> None:
    with pytest.raises(KeyError, match="cinefeat extract"):
        SequenceDataset(small_store, ["ocr"])
    with pytest.raises(Exception, match="set_split"):
        SequenceDataset(small_store, ["clip"], split="nope")
