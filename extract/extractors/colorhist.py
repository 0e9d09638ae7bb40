"""`colorhist`: a joint HSV colour histogram per frame, a visual feature that needs no weights.

Why: colour and lighting were the first visual cues used for film genre (dark, low-key frames for
horror and thrillers, saturated ones for comedies and animation; Rasheed & Shah 2005). It is weak
next to CLIP, but it is exact, costs microseconds per frame, and works on any machine without a
download, which makes it the visual feature of the offline demo and a floor for the heads.

Vector: `hue_bins x saturation_bins x value_bins` bins (default 8 x 4 x 4 = 128), L1-normalised, so
the rows of a trailer are distributions over colours that the heads can average over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract.base import (
    BatchExtractor,
    ExtractorConfig,
    FrameRequest,
    register_extractor,
)


@dataclass
class ColorHistConfig(ExtractorConfig):
    sampler: str = "scene-middle"
    hue_bins: int = 8
    saturation_bins: int = 4
    value_bins: int = 4
    short_side: int = 128

    def __post_init__(self) -> None:
        for name in ("hue_bins", "saturation_bins", "value_bins"):
            if getattr(self, name) < 1:
                raise ValueError(f"colorhist {name} must be >= 1, got {getattr(self, name)}")


@register_extractor
class ColorHistExtractor(BatchExtractor):
    name = "colorhist"
    kind = "frames"
    config_class = ColorHistConfig
    uses_device = False
    config: ColorHistConfig

    @property
    def dim(self) -> int:
        c = self.config
        return c.hue_bins * c.saturation_bins * c.value_bins

    def request(self) -> FrameRequest:
        return FrameRequest(sampler=self.config.sampler, short_side=self.config.short_side)

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        """Nothing to load: the histogram is computed with numpy on the CPU."""
        self.device, self.fp16 = "cpu", False

    def model_info(self) -> dict[str, Any]:
        return {"model": "hsv-histogram", "weights_sha256": None, "layer": "histogram"}

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for row, frame in enumerate(items):
            out[row] = self._histogram(frame)
        return out

    def _histogram(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"colorhist expects HxWx3 RGB frames, got shape {frame.shape}")
        hue, saturation, value = rgb_to_hsv(frame)
        c = self.config
        h = np.minimum((hue * c.hue_bins).astype(np.int64), c.hue_bins - 1)
        s = np.minimum((saturation * c.saturation_bins).astype(np.int64), c.saturation_bins - 1)
        v = np.minimum((value * c.value_bins).astype(np.int64), c.value_bins - 1)
        joint = (h * c.saturation_bins + s) * c.value_bins + v
        counts = np.bincount(joint.ravel(), minlength=self.dim).astype(np.float32)
        return counts / max(float(counts.sum()), 1.0)


def rgb_to_hsv(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 RGB -> hue, saturation, value, each in [0, 1] (hue 0 for grey pixels)."""
    rgb = frame.astype(np.float32) / 255.0
    maximum = rgb.max(axis=2)
    minimum = rgb.min(axis=2)
    delta = maximum - minimum
    saturation = np.where(maximum > 0, delta / np.maximum(maximum, 1e-12), 0.0)
    safe = np.maximum(delta, 1e-12)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = np.where(
        maximum == r,
        ((g - b) / safe) % 6.0,
        np.where(maximum == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
    )
    hue = np.where(delta > 0, hue / 6.0, 0.0)
    return hue, saturation, maximum
