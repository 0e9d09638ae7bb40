"""Whole-trailer inference: rows past a head's training `max_len` change its predictions, and the
training-time crop (first / equidistant / random) is an explicit option recorded in the head."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, MAX_LEN, SMALL_CONFIGS, tiny_data, tiny_sequences, tiny_specs

from cinefeat.fuse.data import (
    DataError,
    PaddedFeatures,
    fit_normalization,
    pad_sequences,
    random_window,
)
from cinefeat.fuse.heads import Head, HeadConfigError, build_head
from cinefeat.fuse.predict import predict_arrays
from cinefeat.fuse.train import TrainConfig, fit

# every head; the sequence heads each read a long trailer their paper's way (interpolated
# positions, all-window averaging, windows), the pooling heads pool over every row
HEADS = sorted(SMALL_CONFIGS)


def long_trailers(count: int = 4, extra: int = 3, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Trailers `extra` times longer than the head's max lengths."""
    rng = np.random.default_rng(seed)
    return {
        name: [
            rng.normal(size=(extra * MAX_LEN[name], dim)).astype(np.float32) for _ in range(count)
        ]
        for name, dim in {"clip": 12, "audiotag": 6}.items()
    }


@pytest.mark.parametrize("name", HEADS)
def test_rows_past_max_len_change_predictions(name: str) -> None:
    torch.manual_seed(0)
    head = build_head(name, tiny_specs(), LABELS, SMALL_CONFIGS[name]).eval()
    features = long_trailers()
    before = predict_arrays(head, features)
    changed = {n: [a.copy() for a in rows] for n, rows in features.items()}
    for rows in changed.values():
        for array in rows:
            array[2 * len(array) // 3 :] += 3.0  # only the last third: all past max_len
    after = predict_arrays(head, changed)
    assert np.isfinite(after).all()
    assert not np.allclose(before, after, atol=1e-6), f"{name} ignores rows past max_len"


@pytest.mark.parametrize("name", HEADS)
def test_a_trailer_scores_the_same_alone_or_beside_a_long_one(name: str) -> None:
    # whole-trailer padding goes to the longest trailer of the set; masks keep it out of the
    # short trailer's prediction (batches are trimmed to their own longest trailer)
    torch.manual_seed(0)
    head = build_head(name, tiny_specs(), LABELS, SMALL_CONFIGS[name]).eval()
    short = long_trailers(count=1, extra=1, seed=1)
    long = long_trailers(count=1, extra=5, seed=2)
    alone = predict_arrays(head, short)
    together = predict_arrays(head, {n: short[n] + long[n] for n in short})
    np.testing.assert_allclose(together[:1], alone, atol=1e-5)


def test_pad_sequences_crops() -> None:
    rows = [np.arange(10, dtype=np.float32).reshape(10, 1)]
    first, _ = pad_sequences(rows, 4)
    equidistant, _ = pad_sequences(rows, 4, crop="equidistant")
    whole, mask = pad_sequences(rows, None)
    kept_random, random_mask = pad_sequences(rows, 4, crop="random")
    assert first[0, :, 0].tolist() == [0, 1, 2, 3]
    # Sulun et al.'s equidistant_indices: round(linspace(0, n - 1, max_len))
    # (serkansulun/movie-genre-classification utils.py)
    assert equidistant[0, :, 0].tolist() == [0, 3, 6, 9]
    assert whole.shape[1] == 10 and bool(mask.all())
    assert kept_random.shape[1] == 10 and bool(random_mask.all())  # cut per batch, not here
    with pytest.raises(DataError, match="unknown crop"):
        pad_sequences(rows, 4, crop="middle")


def test_random_window_is_seeded_and_inside_the_real_rows() -> None:
    values = torch.arange(2 * 12, dtype=torch.float32).reshape(2, 12, 1)
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[0, :12], mask[1, :6] = True, True
    draws = [random_window(values, mask, 4, torch.Generator().manual_seed(3)) for _ in range(2)]
    (window, window_mask), (again, _) = draws
    assert torch.equal(window, again)
    assert window.shape == (2, 4, 1) and bool(window_mask.all())
    steps = window[:, :, 0] - values[:, :1, 0]
    assert bool(((steps[:, 1:] - steps[:, :-1]) == 1).all())  # consecutive rows
    assert int(steps[1].max()) < 6  # the short trailer's window stays in its real rows


@pytest.mark.parametrize("crop", ["equidistant", "random"])
def test_crop_is_recorded_in_the_head_and_trains(crop: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    head = build_head("mlp", tiny_specs(), LABELS, {**SMALL_CONFIGS["mlp"], "crop": crop})
    sequences, labels, ids = tiny_sequences(32, seed=1)
    train = PaddedFeatures.from_sequences(sequences, labels, ids, MAX_LEN, crop=crop)
    head.normalization = fit_normalization(train)
    val = tiny_data(16, seed=2)
    config = TrainConfig(epochs=2, lr=3e-3, batch_size=16, pos_weight=1.0)
    fit(head, train, val, config, tmp_path / "head")
    loaded = Head.from_pretrained(tmp_path / "head")
    assert loaded.config.crop == crop


def test_unknown_crop_is_refused() -> None:
    with pytest.raises(HeadConfigError, match="crop"):
        build_head("mlp", tiny_specs(), LABELS, {"crop": "middle"})
