"""Decode once: known cuts on a real clip, exact frames and spans on synthetic media."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract.decode import DecodePlan, FrameSpec, TrailerDecoder
from cinefeat.extract.probe import ProbeError, probe
from cinefeat.extract.scenes import SCENE_DETECTORS

BIKES_CUTS_S = [1.20, 3.04, 5.48, 7.48, 9.68]


@pytest.mark.parametrize("detector", ["content", "adaptive", "transnetv2"])
def test_bikes_has_exactly_five_known_cuts(media, detector: str) -> None:
    path = media("bikes.mp4")
    info = probe(path)
    assert (info.fps, info.width, info.height, info.has_audio) == (25.0, 640, 272, False)
    decoder = TrailerDecoder(path, info, DecodePlan(scene_detector=detector))
    assert list(decoder.items()) == []
    times = [decoder.timeline.times[c] for c in decoder.timeline.cuts]
    assert len(times) == 5
    assert np.all(np.abs(np.array(times) - BIKES_CUTS_S) <= 2 / 25 + 1e-9)


def test_registry_has_three_detectors() -> None:
    assert sorted(SCENE_DETECTORS) == ["adaptive", "content", "transnetv2"]


def test_synthetic_cuts_frames_spans_and_audio(cuts_video: Path) -> None:
    info = probe(cuts_video)
    assert info.has_audio and info.audio_rate == 44100 and abs(info.duration_s - 4.0) < 0.1
    plan = DecodePlan(
        [
            FrameSpec("scene-middle", (), 32),
            FrameSpec("every-k", (("k", 25),), 32),
            FrameSpec("shot-clips", (("frames_per_clip", 10),), 16, clip=True),
        ],
        audio_rates=[16000, 8000],
    )
    decoder = TrailerDecoder(cuts_video, info, plan)
    items = list(decoder.items())
    assert decoder.timeline.cuts == (25, 50, 75)
    counts = Counter(i.spec.sampler for i in items)
    assert counts == {"scene-middle": 4, "every-k": 4, "shot-clips": 12}
    middles = [i for i in items if i.spec.sampler == "scene-middle"]
    # red, green (lavfi "green" is 0,128,0), blue, white; 160x90 -> short side 32
    expected = [(255, 0, 0), (0, 128, 0), (0, 0, 255), (255, 255, 255)]
    for item, rgb in zip(middles, expected, strict=True):
        assert item.data.shape == (32, 56, 3)
        assert np.abs(item.data.reshape(-1, 3).mean(0) - rgb).max() < 12
    assert [i.span for i in middles] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]
    clip = next(i for i in items if i.spec.clip)
    assert clip.data.shape == (10, 16, 28, 3) and clip.span == (0.0, 0.4)
    assert [i.span for i in items if i.spec.sampler == "every-k"][1] == (1.0, 2.0)
    assert abs(len(decoder.audio[16000]) - 64000) < 1100
    assert abs(len(decoder.audio[8000]) - 32000) < 600
    tone = decoder.audio[16000][16000:32000]
    spectrum = np.abs(np.fft.rfft(tone))
    assert abs(np.argmax(spectrum) * 16000 / len(tone) - 440) < 2


def test_portrait_rotation_metadata_gives_upright_frames(tmp_path: Path, run_ffmpeg) -> None:
    ffmpeg = run_ffmpeg
    path = tmp_path / "portrait 4k.mp4"
    # coded 3840x2160 landscape (left half red, right half blue), displayed rotated 90 degrees
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=1920x2160:r=5:d=0.4",
        "-f",
        "lavfi",
        "-i",
        "color=c=blue:s=1920x2160:r=5:d=0.4",
        "-filter_complex",
        "[0:v][1:v]hstack[v]",
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(tmp_path / "coded.mp4"),
    )
    ffmpeg("-display_rotation", "90", "-i", str(tmp_path / "coded.mp4"), "-c", "copy", str(path))
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (3840, 2160, 90)
    assert info.display_size == (2160, 3840)
    items = list(
        TrailerDecoder(path, info, DecodePlan([FrameSpec("scene-middle", (), 64)])).items()
    )
    frame = items[0].data
    assert frame.shape == (114, 64, 3)  # portrait: taller than wide
    # rotated 90 degrees counter-clockwise: the left (red) half of the coded frame is at the bottom
    assert frame[-10:, :, 0].mean() > 200 and frame[:10, :, 2].mean() > 200


def test_variable_frame_rate_spans_follow_timestamps(tmp_path: Path, run_ffmpeg) -> None:
    ffmpeg = run_ffmpeg
    path = tmp_path / "vfr.mkv"
    # 2 s at 10 fps then 1 s at 30 fps, concatenated with real timestamps (variable frame rate)
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=64x36:r=10:d=2",
        "-f",
        "lavfi",
        "-i",
        "color=c=blue:s=64x36:r=30:d=1",
        "-filter_complex",
        "[0:v]settb=1/1000[a];[1:v]settb=1/1000[b];[a][b]concat=n=2:v=1[v]",
        "-map",
        "[v]",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    info = probe(path)
    decoder = TrailerDecoder(path, info, DecodePlan([FrameSpec("scene-middle", (), 36)]))
    items = list(decoder.items())
    assert decoder.timeline.n_frames == 50
    steps = np.diff(decoder.timeline.times)
    assert abs(steps[0] - 0.1) < 1e-3 and abs(steps[-1] - 1 / 30) < 1e-3
    assert decoder.timeline.cuts == (20,)
    assert [round(a, 3) for a, _ in (i.span for i in items)] == [0.0, 2.0]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"hello, I am text\n" * 20, "not a readable media file")],
    ids=["zero-byte", "text-named-mp4"],
)
def test_probe_rejects_non_videos(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(ProbeError, match=message):
        probe(path)


def test_probe_rejects_audio_only(tmp_path: Path, run_ffmpeg) -> None:
    ffmpeg = run_ffmpeg
    path = tmp_path / "song.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", str(path))
    with pytest.raises(ProbeError, match=r"has no video stream \(audio\): not a trailer"):
        probe(path)


def test_second_pass_with_seeks_matches_the_buffered_pass(tmp_path: Path, cuts_video_maker):
    """buffer_s=0 forces every scene-dependent frame through pass 2 (seeks over 1 s gaps)."""
    path = cuts_video_maker(
        tmp_path / "long.mp4", ["red", "green", "blue", "white", "yellow", "black"], seconds=3.0
    )
    info = probe(path)
    specs = [
        FrameSpec("scene-middle", (), 32),
        FrameSpec("shot-clips", (("frames_per_clip", 8),), 16, clip=True),
    ]
    buffered = TrailerDecoder(path, info, DecodePlan(specs, buffer_s=4.0))
    one_pass = list(buffered.items())
    assert buffered.second_pass_items == 0 and buffered.frames_decoded == 450
    seeking = TrailerDecoder(path, info, DecodePlan(specs, buffer_s=0.0, seek_gap_s=1.0))
    two_pass = list(seeking.items())
    assert seeking.second_pass_items == len(two_pass) == len(one_pass) == 6 + 60
    middles = TrailerDecoder(path, info, DecodePlan(specs[:1], buffer_s=0.0, seek_gap_s=1.0))
    assert len(list(middles.items())) == 6
    assert middles.frames_decoded < 450 + 6 * 50  # 6 seeks, each decoding < 2 s (GOP 50)

    def key(item):
        return item.spec.label(), item.span

    for a, b in zip(sorted(one_pass, key=key), sorted(two_pass, key=key), strict=True):
        assert key(a) == key(b) and a.data.shape == b.data.shape
        assert np.abs(a.data.astype(int) - b.data.astype(int)).mean() < 3
