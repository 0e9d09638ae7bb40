"""Padding, standardisation, prefetching, late fusion and reports: known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinefeat.fuse.data import (
    DataError,
    NonFiniteError,
    PaddedFeatures,
    fit_normalization,
    pad_sequences,
    prefetch,
    upper_whisker,
)
from cinefeat.fuse.late_fusion import pick_weight
from cinefeat.fuse.metrics import evaluate
from cinefeat.fuse.report import write_report, write_summary


def test_padding_truncates_keeps_empty_and_averages() -> None:
    rows = [np.ones((5, 2)), np.zeros((0, 2)), np.arange(4.0).reshape(2, 2)]
    values, mask = pad_sequences(rows, max_len=3)
    assert values.shape == (3, 3, 2)
    assert mask.tolist() == [[True] * 3, [False] * 3, [True, True, False]]
    averaged, averaged_mask = pad_sequences(rows, max_len=3, average=True)
    assert averaged.shape == (3, 1, 2) and averaged_mask[:, 0].tolist() == [True, False, True]
    assert averaged[2, 0].tolist() == [1.0, 2.0]


def test_upper_whisker_is_capped_at_the_maximum() -> None:
    assert upper_whisker([1, 2, 3, 4, 100]) == pytest.approx(4 + 1.5 * 2)
    assert upper_whisker([10, 10, 10]) == 10


def test_normalization_ignores_padding() -> None:
    data = PaddedFeatures.from_sequences(
        {"f": [np.array([[1.0], [3.0]]), np.array([[5.0]])]}, np.zeros((2, 1)), ["a", "b"], {"f": 4}
    )
    mean, std = fit_normalization(data)["f"]
    assert mean.item() == pytest.approx(3.0)  # padding zeros would pull it to 1.125
    assert std.item() == pytest.approx(2.0)


def test_prefetch_yields_in_order_and_reraises() -> None:
    assert list(prefetch(iter(range(7)), depth=2)) == list(range(7))

    def broken():
        yield 1
        raise DataError("boom")

    with pytest.raises(DataError, match="boom"):
        list(prefetch(broken()))


def test_late_fusion_picks_the_informative_head() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((200, 3)) < 0.3).astype(int)
    good, noise = y + rng.normal(0, 0.3, y.shape), rng.random(y.shape)
    assert pick_weight(good, noise, y) >= 0.8
    assert pick_weight(noise, good, y) <= 0.2


def test_report_lists_excluded_labels_and_writes_plots(tmp_path) -> None:
    rng = np.random.default_rng(1)
    y = (rng.random((50, 3)) < 0.4).astype(int)
    y[:, 1] = 0
    scores = rng.random((50, 3))
    result = evaluate(y, scores, ["A", "B", "C"])
    page = write_report(tmp_path, result, y, scores, ["A", "B", "C"]).read_text()
    assert "excluded from macro AP: B" in page and "| B | 0 | excluded |" in page
    for name in ("per_label_ap.png", "pr_most_frequent.png", "pr_least_frequent.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    summary = write_summary(tmp_path, {"a": {"ap_macro": 0.4}, "b": {"ap_macro": 0.6}})
    assert "| 0.5000 | 0.1000 |" in summary.read_text()


def test_batches_cover_every_row_once() -> None:
    data = PaddedFeatures.from_sequences(
        {"f": [np.full((1, 1), i, dtype=float) for i in range(10)]},
        np.zeros((10, 1)),
        [str(i) for i in range(10)],
        {"f": 1},
    )
    seen = [
        int(v)
        for x, _, _ in data.batches(3, shuffle=True, generator=torch.Generator())
        for v in x["f"][:, 0, 0]
    ]
    assert sorted(seen) == list(range(10))


def test_chunked_statistics_equal_the_direct_ones() -> None:
    rng = np.random.default_rng(0)
    sequences = [rng.normal(3, 2, (int(n), 5)) for n in rng.integers(0, 9, 300)]
    data = PaddedFeatures.from_sequences(
        {"f": sequences}, np.zeros((300, 1)), [str(i) for i in range(300)], {"f": 8}
    )
    mean, std = fit_normalization(data, chunk=7)["f"]
    real = data.values["f"][data.masks["f"]].double()
    assert mean.dtype == std.dtype == torch.float64  # statistics in float64
    torch.testing.assert_close(mean, real.mean(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(std, real.std(0), rtol=1e-12, atol=1e-12)


def test_float32_features_above_the_float16_range_stay_finite() -> None:
    """One real benchmark feature reaches 103,512: float16 padding made it inf, then every
    standardised value NaN. float16 is kept only for data that already is float16."""
    rows = [np.array([[103_512.0, 1.0], [2.0, 3.0]], dtype=np.float32), np.ones((1, 2), np.float32)]
    values, _ = pad_sequences(rows, max_len=2)
    assert values.dtype == torch.float32 and values[0, 0, 0].item() == 103_512.0
    halves = [r.astype(np.float16) for r in (np.ones((2, 2)), np.zeros((1, 2)))]
    assert pad_sequences(halves, max_len=2)[0].dtype == torch.float16  # storage stays compact
    assert pad_sequences(halves, max_len=2, average=True)[0].dtype == torch.float32
    data = PaddedFeatures.from_sequences({"f": rows}, np.zeros((2, 1)), ["a", "b"], {"f": 2})
    mean, std = fit_normalization(data)["f"]
    assert torch.isfinite(mean).all() and torch.isfinite(std).all()
    assert mean[0].item() == pytest.approx((103_512.0 + 2.0 + 1.0) / 3)


def test_statistics_of_large_values_keep_their_variance() -> None:
    """Sum of squares minus n mean^2 cancels (51.37 for 52.43) for float32 values around 1e9
    with a spread of 64 (the float32 spacing there)."""
    base = np.float64(1e9)
    rows = [np.array([[base + d]], dtype=np.float32) for d in (-64.0, 0.0, 64.0)] * 50
    data = PaddedFeatures.from_sequences(
        {"f": rows}, np.zeros((150, 1)), [str(i) for i in range(150)], {"f": 1}
    )
    _, std = fit_normalization(data)["f"]
    expected = np.std((data.values["f"][:, 0, 0].double().numpy()), ddof=1)
    assert std.item() == pytest.approx(expected, rel=1e-9)


def test_non_finite_feature_values_are_refused_naming_feature_and_trailer() -> None:
    rows = [np.ones((2, 2), np.float32), np.array([[1.0, np.nan]], np.float32)]
    data = PaddedFeatures.from_sequences(
        {"clip": rows}, np.zeros((2, 1)), ["ok", "tt42"], {"clip": 2}
    )
    with pytest.raises(NonFiniteError, match=r"feature 'clip' of trailer 'tt42' holds 1 .*NaN"):
        fit_normalization(data)
    # a NaN in padding that the mask hides is not an input
    padded = PaddedFeatures.from_sequences(
        {"clip": rows[:1]}, np.zeros((1, 1)), ["ok"], {"clip": 3}
    )
    padded.values["clip"][0, 2] = float("nan")
    assert padded.non_finite() == []
