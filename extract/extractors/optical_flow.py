"""`flow`: RAFT optical flow of each clip, stored as a small motion descriptor (44-d by default).

Why a descriptor and not the field: a 224x224x2 field per frame pair is 100k numbers, more than
any head can use and larger than every other feature together; what the genre papers take from
motion is how much the picture moves, in which direction, and where (a pan moves the whole frame
one way, a zoom moves the borders outwards, action moves the centre). So per clip, over its
T-1 frame pairs (a clip of `frames_per_clip=2` gives one row per frame pair):

- `2 * grid * grid` values: the mean flow (dx, dy) in each cell of a `grid` x `grid` grid over
  the crop (`grid=4`: 32 values) — where the picture moves, and which way (pan, tilt, zoom);
- 8 values: a histogram of flow orientation weighted by magnitude, summing to 1 (HOF, Laptev et
  al. 2008), or zeros for a still clip — the direction of motion wherever it is;
- 4 values: magnitude mean, standard deviation, 90th percentile, and the fraction of pixels
  moving more than 1 px — how much moves.

Flow is in pixels per sampled frame at the crop size (`crop_size`, default 224; with `fps=` the
sampled frames are further apart and flows are larger). Frame pairs that are identical (a short
shot padded by repeating its last frame) are left out of the averages, so padding adds no false
stillness; a clip with no distinct pair gives zeros. RAFT runs on the frames the pipeline decoded
for this run (no second decode), `model=raft_small` (default) or `raft_large` (torchvision's
weights, `cinefeat.extract.flow`); it stays in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract.backbones import pad_clip
from cinefeat.extract.base import BatchExtractor, ClipRequest, ExtractorConfig, register_extractor
from cinefeat.extract.flow import ClipFlow  # light: registers RAFT in the weights table

ORIENTATION_BINS = 8
MOVING_PX = 1.0


@dataclass
class FlowConfig(ExtractorConfig):
    model: str = "raft_small"  # torchvision RAFT: raft_small or raft_large
    sampler: str = "shot-clips"
    frames_per_clip: int = 16
    fps: float | None = None
    short_side: int = 256
    crop_size: int = 224
    grid: int = 4
    weights: str | None = None  # RAFT weights (default: torchvision's)

    def __post_init__(self) -> None:
        if self.frames_per_clip < 2:
            raise ValueError(
                f"flow needs frames_per_clip >= 2 (a pair), got {self.frames_per_clip}"
            )
        if self.crop_size % 8 or self.crop_size < 128 or self.short_side < self.crop_size:
            raise ValueError(
                f"flow needs crop_size >= 128, divisible by 8 (RAFT), and short_side >= "
                f"crop_size, got crop_size={self.crop_size}, short_side={self.short_side}"
            )
        if not 1 <= self.grid <= self.crop_size // 8:
            raise ValueError(f"flow grid must be 1..{self.crop_size // 8}, got {self.grid}")


@register_extractor
class FlowExtractor(BatchExtractor):
    name = "flow"
    kind = "clips"
    config_class = FlowConfig
    config: FlowConfig

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.raft = ClipFlow(self.config.model, self.config.weights)

    @property
    def dim(self) -> int:
        return 2 * self.config.grid**2 + ORIENTATION_BINS + 4

    def request(self) -> ClipRequest:
        c = self.config
        return ClipRequest(
            sampler=c.sampler, frames_per_clip=c.frames_per_clip, fps=c.fps, short_side=c.short_side
        )

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        self.raft.load(device)
        self.device = device

    def model_info(self) -> dict[str, Any]:
        return {
            "model": f"torchvision {self.config.model} (RAFT, Teed & Deng 2020), "
            f"{self.raft.num_flow_updates} updates",
            "weights": self.raft.weights_name,
            "weights_sha256": self.raft.sha256,
            "layer": f"flow in px/frame at {self.config.crop_size}: {self.config.grid}x"
            f"{self.config.grid} mean (dx, dy), {ORIENTATION_BINS}-bin magnitude-weighted "
            "orientation histogram, magnitude mean/std/p90/fraction > 1 px",
            "short_clips": "padded by repeating the last frame; identical pairs left out",
        }

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        from cinefeat.extract.nets.runtime import square_crop

        if self.raft.model is None:
            raise RuntimeError("FlowExtractor.load() must be called before extract_batch()")
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        c = self.config
        clips = np.stack(
            [pad_clip(square_crop(clip, c.crop_size, shrink=False), c.frames_per_clip)
             for clip in items]
        )  # fmt: skip
        flows = self.raft(clips)[:, :-1]  # (B, T-1, S, S, 2): drop the repeated last flow
        distinct = np.any(clips[:, 1:] != clips[:, :-1], axis=(2, 3, 4))  # (B, T-1)
        return np.stack(
            [motion_descriptor(f[d], c.grid) for f, d in zip(flows, distinct, strict=True)]
        )


def motion_descriptor(flows: np.ndarray, grid: int) -> np.ndarray:
    """(P, S, S, 2) flows of P frame pairs -> the `flow` vector (module docstring); P = 0: zeros."""
    dim = 2 * grid * grid + ORIENTATION_BINS + 4
    if len(flows) == 0:
        return np.zeros(dim, dtype=np.float32)
    size = flows.shape[1] - flows.shape[1] % grid
    mean = flows[:, :size, :size].mean(axis=0)  # (S, S, 2)
    cells = mean.reshape(grid, size // grid, grid, size // grid, 2).mean(axis=(1, 3))
    magnitude = np.hypot(flows[..., 0], flows[..., 1]).ravel()
    angle = np.arctan2(flows[..., 1], flows[..., 0]).ravel()
    bins = ((angle + np.pi) / (2 * np.pi) * ORIENTATION_BINS).astype(int) % ORIENTATION_BINS
    histogram = np.bincount(bins, weights=magnitude, minlength=ORIENTATION_BINS)
    total = histogram.sum()
    histogram = histogram / total if total > 0 else histogram
    stats = (
        magnitude.mean(),
        magnitude.std(),
        np.percentile(magnitude, 90),
        (magnitude > MOVING_PX).mean(),
    )
    return np.concatenate([cells.ravel(), histogram, stats]).astype(np.float32)
