"""Samplers: which frames, clips and audio windows of a decoded trailer become feature items.

Why small named objects: the store records which sampler made each feature (provenance), and the
papers we reproduce differ exactly here. A frame sampler sees the *timeline* of the first decode
pass (frame times, cuts, a small colour histogram per frame) and returns `Selection`s: the frame
indices an item is made of and the (start_s, end_s) it stands for. Samplers never touch pixels, so
they are exact and cheap to test.

- `scene-middle`: the frame exactly in the middle of each scene (Sulun et al.); span = the scene.
- `every-k`: every k-th frame, k=12 (Cai et al.); span = the k frames it stands for.
- `shot-clips`: each shot cut into clips of f=24 frames, the last one padded by repeating its last
  frame; for 2-D models one representative frame per clip, the one whose colour histogram is
  closest (L1) to the clip's mean histogram (DIViTA); span = the clip's real frames.
Audio windows are not a frame sampler: see `audio_windows`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cinefeat.store.registry import Capabilities, Registry


@dataclass(frozen=True)
class Timeline:
    """What the first pass learned: frame start times, cuts, per-frame colour histograms."""

    times: np.ndarray  # (n,) seconds, increasing
    duration_s: float
    cuts: tuple[int, ...]
    histograms: np.ndarray | None = None  # (n, bins) L1-normalised, for representative frames

    @property
    def n_frames(self) -> int:
        return len(self.times)

    def end_of(self, index: int) -> float:
        """End time of frame `index` (start of the next one, or the trailer's end)."""
        index = index % self.n_frames
        if index + 1 < self.n_frames:
            return float(self.times[index + 1])
        return max(float(self.duration_s), float(self.times[index]))

    def scenes(self) -> list[tuple[int, int]]:
        from cinefeat.extract.scenes import scenes_from_cuts

        return scenes_from_cuts(list(self.cuts), self.n_frames)


@dataclass(frozen=True)
class Selection:
    """One item: frames `indices` (a clip) or one frame; `representative` is the 2-D frame."""

    indices: tuple[int, ...]
    span: tuple[float, float]
    representative: int


class FrameSampler(ABC):
    name: ClassVar[str]
    needs_scenes: ClassVar[bool] = True
    """False when indices are known before decoding (frames can be taken in the first pass)."""
    uses_histograms: ClassVar[bool] = False
    """True when `select` reads `Timeline.histograms` (the decoder then computes them)."""

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frames=True, scenes=cls.needs_scenes)

    @abstractmethod
    def select(self, timeline: Timeline) -> list[Selection]: ...

    def wants(self, index: int, time_s: float) -> bool:
        """Only for samplers with `needs_scenes = False`: is this frame selected? Called once per
        frame, in order (it may keep state); must agree with `select`."""
        raise NotImplementedError

    def select_open(
        self, timeline: Timeline, start: int, settled: int, skip: int
    ) -> list[Selection]:
        """Selections of the shot that starts at frame `start` and is still open (its end is not
        known, but frames `start..settled` are known to be in it) that no later cut can change,
        after the first `skip` of them. They must be exactly the first selections `select` gives
        for that shot once it is closed. Default: none (wait for the cut)."""
        return []


SAMPLERS: Registry[FrameSampler] = Registry("sampler")
register_sampler = SAMPLERS.register


def create_sampler(
    name: str, options: tuple[tuple[str, Any], ...] | dict[str, Any] = ()
) -> FrameSampler:
    return SAMPLERS.create(name, **dict(options))


@register_sampler
class SceneMiddle(FrameSampler):
    """The frame in the middle of each scene (Sulun et al.); span = the scene."""

    name = "scene-middle"

    def select(self, timeline: Timeline) -> list[Selection]:
        out = []
        for start, end in timeline.scenes():
            middle = start + (end - start - 1) // 2
            span = (float(timeline.times[start]), timeline.end_of(end - 1))
            out.append(Selection((middle,), span, middle))
        return out


@register_sampler
class EveryK(FrameSampler):
    """Every k-th frame (Cai et al.: k=12); span = the k frames it stands for."""

    name = "every-k"
    needs_scenes = False

    def __init__(self, k: int = 12) -> None:
        if int(k) < 1:
            raise ValueError(f"every-k needs k >= 1, got {k}")
        self.k = int(k)

    def wants(self, index: int, time_s: float) -> bool:
        return index % self.k == 0

    def select(self, timeline: Timeline) -> list[Selection]:
        out = []
        for index in range(0, timeline.n_frames, self.k):
            last = min(index + self.k, timeline.n_frames) - 1
            span = (float(timeline.times[index]), timeline.end_of(last))
            out.append(Selection((index,), span, index))
        return out


@register_sampler
class EverySeconds(FrameSampler):
    """The first frame at or after each multiple of `interval_s` (OCR reads one frame a second);
    span = until the next selected frame."""

    name = "every-seconds"
    needs_scenes = False

    def __init__(self, interval_s: float = 1.0) -> None:
        if float(interval_s) <= 0:
            raise ValueError(f"every-seconds needs interval_s > 0, got {interval_s}")
        self.interval_s = float(interval_s)
        self._next = 0.0

    def wants(self, index: int, time_s: float) -> bool:
        if index == 0:
            self._next = 0.0
        if time_s + 1e-6 < self._next:
            return False
        while self._next <= time_s + 1e-6:
            self._next += self.interval_s
        return True

    def select(self, timeline: Timeline) -> list[Selection]:
        state = EverySeconds(self.interval_s)
        chosen = [i for i, t in enumerate(timeline.times) if state.wants(i, float(t))]
        ends = [float(timeline.times[i]) for i in chosen[1:]] + [timeline.end_of(-1)]
        return [
            Selection((i,), (float(timeline.times[i]), end), i)
            for i, end in zip(chosen, ends, strict=True)
        ]


@register_sampler
class ShotClips(FrameSampler):
    """Each shot cut into clips of f frames, the last padded (DIViTA); span = the clip's frames."""

    name = "shot-clips"
    uses_histograms = True

    def __init__(self, frames_per_clip: int = 24, step: int = 1, fps: float | None = None) -> None:
        if int(frames_per_clip) < 1 or int(step) < 1 or (fps is not None and fps <= 0):
            raise ValueError("shot-clips needs frames_per_clip >= 1, step >= 1 and fps > 0")
        self.frames_per_clip = int(frames_per_clip)
        self.step = int(step)
        self.fps = fps

    def select(self, timeline: Timeline) -> list[Selection]:
        """Clips of `frames_per_clip` frames taken every `step` frames (or at `fps`, which sets
        the step from the trailer's frame rate: 25 fps from 50 fps keeps every 2nd frame)."""
        step = self.step
        if self.fps is not None and timeline.n_frames > 1:
            source_fps = 1.0 / float(np.median(np.diff(timeline.times)))
            step = max(1, round(source_fps / self.fps))
        out = []
        length = self.frames_per_clip * step
        for start, end in timeline.scenes():
            for clip_start in range(start, end, length):
                real = list(range(clip_start, min(clip_start + length, end), step))
                padded = real + [real[-1]] * (self.frames_per_clip - len(real))
                span = (
                    float(timeline.times[real[0]]),
                    timeline.end_of(min(clip_start + length, end) - 1),
                )
                out.append(Selection(tuple(padded), span, _representative(real, timeline)))
        return out

    def select_open(
        self, timeline: Timeline, start: int, settled: int, skip: int
    ) -> list[Selection]:
        """Full clips of the open shot, served while it goes on: a clip whose frames and end time
        are all settled is the same whatever cut comes later. Only with a fixed `step` (with
        `fps`, the step depends on the whole trailer's frame timing)."""
        if self.fps is not None:
            return []
        length = self.frames_per_clip * self.step
        out = []
        clip = skip
        while start + (clip + 1) * length <= settled:  # end_of(last frame) = next frame's start
            clip_start = start + clip * length
            real = list(range(clip_start, clip_start + length, self.step))
            span = (float(timeline.times[clip_start]), timeline.end_of(clip_start + length - 1))
            out.append(Selection(tuple(real), span, _representative(real, timeline)))
            clip += 1
        return out


def _representative(indices: list[int], timeline: Timeline) -> int:
    """The frame whose colour histogram is closest (L1) to the mean of the clip's histograms."""
    if timeline.histograms is None or len(indices) == 1:
        return indices[len(indices) // 2]
    hists = timeline.histograms[indices]
    distance = np.abs(hists - hists.mean(axis=0)).sum(axis=1)
    return indices[int(np.argmin(distance))]


def colour_histogram(frame: np.ndarray, bins: int = 4) -> np.ndarray:
    """Joint RGB histogram with `bins` levels per channel (bins**3 values), L1-normalised."""
    levels = (frame.reshape(-1, 3).astype(np.int32) * bins) // 256
    joint = (levels[:, 0] * bins + levels[:, 1]) * bins + levels[:, 2]
    counts = np.bincount(joint, minlength=bins**3).astype(np.float32)
    return counts / max(float(counts.sum()), 1.0)


def audio_windows(
    n_samples: int, rate: int, window_s: float, hop_s: float
) -> list[tuple[int, int, tuple[float, float]]]:
    """Windows over `n_samples` mono samples -> [(start, stop, (start_s, end_s))].

    `stop - start` may be shorter than the window for the last one (the caller zero-pads it); a
    trailer shorter than one window gives exactly one padded window; no audio gives none.
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError(f"audio windows need window_s > 0 and hop_s > 0, got {window_s}, {hop_s}")
    if n_samples <= 0:
        return []
    window = max(1, round(window_s * rate))
    hop = max(1, round(hop_s * rate))
    count = 1 + max(0, math.ceil((n_samples - window) / hop))
    out = []
    for i in range(count):
        start = i * hop
        stop = min(start + window, n_samples)
        out.append((start, stop, (start / rate, stop / rate)))
    return out


def cut_window(audio: np.ndarray, start: int, stop: int, window: int) -> np.ndarray:
    """`audio[start:stop]` zero-padded to `window` samples (float32)."""
    out = np.zeros(window, dtype=np.float32)
    piece = audio[start:stop]
    out[: len(piece)] = piece
    return out
