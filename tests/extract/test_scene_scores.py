"""The fast content score is PySceneDetect's to the bit; the cuts are `scenedetect.detect`'s."""

from __future__ import annotations

import numpy as np
import pytest

from cinefeat.extract.decode import DecodePlan, FrameSpec, TrailerDecoder
from cinefeat.extract.probe import probe
from cinefeat.extract.scenes import create_scene_detector


def _detector_frames(path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[np.ndarray], float]:
    """The RGB frames the decoder pushes to its detector, recorded on the way."""
    import cinefeat.extract.decode as decode

    frames: list[np.ndarray] = []

    def recording(*args, **kwargs):
        detector = create_scene_detector(*args, **kwargs)
        push = detector.push
        detector.push = lambda index, frame: (frames.append(frame.copy()), push(index, frame))
        return detector

    monkeypatch.setattr(decode, "create_scene_detector", recording)
    info = probe(path)
    list(TrailerDecoder(path, info, DecodePlan()).items())
    return frames, info.fps


@pytest.mark.parametrize("name", ["content", "adaptive"])
def test_fast_score_is_pyscenedetects_score_on_every_frame(
    media, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import cv2
    from scenedetect import FrameTimecode
    from scenedetect.detectors import AdaptiveDetector, ContentDetector

    frames, fps = _detector_frames(media("bikes.mp4"), monkeypatch)
    assert len(frames) == 250
    ours = create_scene_detector(name, fps)
    assert ours.fast_score  # the default options take the fast path
    reference = (ContentDetector if name == "content" else AdaptiveDetector)()
    for index, frame in enumerate(frames):
        timecode = FrameTimecode(index, fps=fps)
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        expected = reference._calculate_frame_score(timecode, bgr)
        assert ours.detector._calculate_frame_score(timecode, frame) == expected, index


def test_detector_with_edges_keeps_pyscenedetects_own_score() -> None:
    from scenedetect.detectors import ContentDetector

    from cinefeat.extract.scenes import _fast_score_applies

    assert _fast_score_applies(ContentDetector())
    assert not _fast_score_applies(ContentDetector(weights=ContentDetector.Components(1, 1, 1, 1)))


@pytest.mark.parametrize("clip", ["bikes.mp4", "trailer_bbb.mp4"])
def test_cuts_are_scenedetect_detects_on_the_shared_media(media, clip: str) -> None:
    """Exact: the one-pass decoder with the fast score cuts where `scenedetect.detect(path,
    ContentDetector())` (its own decode and downscale) cuts, frame for frame."""
    from scenedetect import ContentDetector, detect

    path = media(clip)
    expected = [start.frame_num for start, _ in detect(str(path), ContentDetector())][1:]
    specs = [FrameSpec("scene-middle", (), 224), FrameSpec("every-k", (("k", 12),), 224)]
    decoder = TrailerDecoder(path, probe(path), DecodePlan(specs))
    list(decoder.items())
    assert list(decoder.timeline.cuts) == expected
