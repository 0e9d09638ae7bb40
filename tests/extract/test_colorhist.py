"""Known answers for the weight-free colour histogram extractor."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from cinefeat.extract.base import EXTRACTORS
from cinefeat.extract.extractors.colorhist import ColorHistExtractor, rgb_to_hsv


def solid(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (12, 20, 3)).copy()


def test_registered_and_described() -> None:
    extractor = EXTRACTORS.create("colorhist")
    extractor.load()
    info = extractor.provenance()
    assert info["dim"] == 128 and info["extractor"] == "colorhist"
    assert info["sampling"]["sampler"] == "scene-middle"


@pytest.mark.parametrize(
    "rgb", [(255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 180, 20), (10, 10, 10), (90, 30, 160)]
)
def test_hsv_matches_colorsys(rgb: tuple[int, int, int]) -> None:
    hue, sat, val = rgb_to_hsv(solid(rgb))
    expected = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    np.testing.assert_allclose([hue[0, 0], sat[0, 0], val[0, 0]], expected, atol=1e-6)


def test_solid_colours_fill_one_known_bin() -> None:
    extractor = ColorHistExtractor(hue_bins=6, saturation_bins=2, value_bins=2)
    rows = extractor.extract_batch([solid((255, 0, 0)), solid((0, 0, 255)), solid((0, 0, 0))])
    assert rows.shape == (3, 24)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    # red: hue 0, saturation 1 -> bin 1, value 1 -> bin 1  => (0*2+1)*2+1 = 3
    # blue: hue 4/6 -> bin 4 => (4*2+1)*2+1 = 19;  black: everything 0 => bin 0
    assert [int(np.argmax(r)) for r in rows] == [3, 19, 0]


def test_half_and_half_frame_splits_mass() -> None:
    frame = solid((255, 0, 0))
    frame[:, 10:] = (0, 0, 255)
    row = ColorHistExtractor(hue_bins=6, saturation_bins=2, value_bins=2).extract_batch([frame])[0]
    np.testing.assert_allclose(row[[3, 19]], [0.5, 0.5])


def test_rejects_bad_shapes_and_configs() -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        ColorHistExtractor().extract_batch([np.zeros((4, 4), dtype=np.uint8)])
    with pytest.raises(ValueError, match="hue_bins must be >= 1"):
        ColorHistExtractor(hue_bins=0)
