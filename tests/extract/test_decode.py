"""Decode once: known cuts on a real clip, exact frames and spans on synthetic media."""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract.decode import DecodeError, DecodePlan, FrameSpec, TrailerDecoder
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


@pytest.mark.parametrize("audio_rates", [[], [16000]], ids=["video-only", "with-audio"])
def test_truncated_file_with_its_index_first_is_refused(
    tmp_path: Path, run_ffmpeg, cuts_video_maker, audio_rates: list[int]
) -> None:
    """The index (moov) survives, so probing works; the media data stops at 0.84 of 2 s. Demuxing
    only the video ends early without any FFmpeg error; with the audio the cut packet is refused
    by the decoder (skipped, as ffmpeg does). Either way the file is shorter than its boxes say
    and lost more than 5 % of its video: DecodeError saying how much was decodable, no rows."""
    good = cuts_video_maker(tmp_path / "good.mp4", ["red", "blue"])
    streamable = tmp_path / "streamable.mp4"
    run_ffmpeg("-i", str(good), "-c", "copy", "-movflags", "+faststart", str(streamable))
    data = streamable.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    info = probe(path)
    assert info.duration_s == 2.0 and info.has_audio
    decoder = TrailerDecoder(
        path, info, DecodePlan([FrameSpec("scene-middle", (), 32)], audio_rates)
    )
    assert info.truncated and info.file_bytes == info.container_bytes // 2
    with pytest.raises(DecodeError, match=r"video stream ends at 0\.84 s of the 2\.00 s") as error:
        list(decoder.items())
    assert "truncated or corrupt" in str(error.value) and "(42% decodable)" in str(error.value)
    assert f"{info.file_bytes:,} of the {info.container_bytes:,} bytes" in str(error.value)


def test_video_a_little_shorter_than_declared_is_kept(tmp_path: Path, run_ffmpeg) -> None:
    """Audio 0.6 s longer than the video (a container duration past the last frame) is normal:
    kept, with the last scene ending where the video does and a note in the issues."""
    path = tmp_path / "tail.mkv"
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:s=64x36:r=10:d=2",
        "-f", "lavfi", "-i", "sine=d=2.6",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "flac", str(path),
    )  # fmt: skip
    info = probe(path)
    decoder = TrailerDecoder(path, info, DecodePlan([FrameSpec("scene-middle", (), 32)], [16000]))
    items = list(decoder.items())
    assert info.duration_s == pytest.approx(2.6, abs=0.05)  # Matroska: the container's
    assert len(items) == 1 and decoder.timeline.n_frames == 20
    assert items[0].span == (0.0, decoder.timeline.duration_s) == (0.0, 2.0)  # the video's end
    assert decoder.issues.decoded_s == pytest.approx(2.6, abs=0.05)  # the audio's
    assert decoder.issues.notes == ["the video ends at 2.00 s, 0.60 s before the audio (2.60 s)"]
    assert len(decoder.audio[16000]) == round(2.6 * 16000)


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


def test_long_shots_serve_their_clips_from_the_buffer(tmp_path: Path, cuts_video_maker) -> None:
    """Two 6 s shots with a 2 s buffer: every full clip is served while its shot goes on (only the
    two scene-middle frames, 3 s back when their shot ends, need pass 2), and the items are exactly
    those of a run whose buffer holds the whole video."""
    path = cuts_video_maker(tmp_path / "long shots.mp4", ["red", "blue"], seconds=6.0, audio=False)
    info = probe(path)
    specs = [
        FrameSpec("scene-middle", (), 16),
        FrameSpec("shot-clips", (("frames_per_clip", 10),), 16, clip=True),
        FrameSpec("shot-clips", (("frames_per_clip", 7),), 32),  # 2-D: representative frames
    ]
    small = TrailerDecoder(path, info, DecodePlan(specs, buffer_s=2.0))
    served = list(small.items())
    assert small.timeline.cuts == (150,)
    assert small.second_pass_items == 2 and small.frames_decoded < 2 * 300
    whole = TrailerDecoder(path, info, DecodePlan(specs, buffer_s=100.0))
    reference = list(whole.items())
    assert whole.second_pass_items == 0
    counts = Counter(i.spec.label() for i in served)
    assert counts == {
        specs[0].label(): 2,
        specs[1].label(): 30,  # 15 clips of 10 frames per 150-frame shot
        specs[2].label(): 2 * 22,  # ceil(150 / 7) per shot, the last one padded
    }

    def key(item):
        return item.spec.label(), item.span

    assert sorted(map(key, served)) == sorted(map(key, reference))
    for a, b in zip(sorted(served, key=key), sorted(reference, key=key), strict=True):
        assert a.data.shape == b.data.shape
        assert np.abs(a.data.astype(int) - b.data.astype(int)).mean() < 3
    # the clips tile each shot without crossing the cut
    clips = sorted(i.span for i in served if i.spec.clip)
    assert clips[0] == (0.0, 0.4) and clips[14][1] == 6.0 and clips[15][0] == 6.0


AUDIO_TONES = {  # one tone per channel; 5.1's LFE (80 Hz) is left out of the mono downmix
    "mono": {"FC": 440},
    "stereo": {"FL": 440, "FR": 660},
    "5.1": {"FL": 440, "FR": 660, "FC": 550, "LFE": 80, "BL": 770, "BR": 880},
}


@pytest.mark.parametrize(
    ("rate", "layout", "suffix", "codec"),
    [
        (8000, "mono", "mkv", "pcm_s16le"),
        (22050, "stereo", "mkv", "pcm_s16le"),
        (48000, "5.1", "mp4", "aac"),
        (96000, "5.1", "mkv", "pcm_s16le"),
    ],
    ids=["8k-mono", "22k-stereo", "48k-5.1-aac", "96k-5.1"],
)
def test_any_rate_and_layout_decodes_to_mono_at_every_model_rate(
    tmp_path: Path, run_ffmpeg, rate: int, layout: str, suffix: str, codec: str
) -> None:
    """What the audio extractors get from the pipeline: 8 to 96 kHz, mono to 5.1, each channel's
    tone at its pitch in the mono mix (5.1: LFE left out), the right length at 12, 16 and 32 kHz."""
    tones = AUDIO_TONES[layout]
    inputs = ["-f", "lavfi", "-i", "color=c=gray:s=64x36:r=10:d=2"]
    for frequency in tones.values():
        inputs += ["-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate={rate}:d=3"]
    mapping = "|".join(f"{i}.0-{channel}" for i, channel in enumerate(tones))
    graph = "".join(f"[{i + 1}:a]" for i in range(len(tones)))
    graph += f"join=inputs={len(tones)}:channel_layout={layout}:map={mapping}[a]"
    path = tmp_path / f"tones {layout}.{suffix}"
    run_ffmpeg(
        *inputs,
        "-filter_complex",
        graph,
        "-map",
        "0:v",
        "-map",
        "[a]",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        codec,
        "-t",
        "2",  # `join` may drop its inputs' last frame: make them longer and cut the output
        str(path),
    )
    info = probe(path)
    assert (info.audio_rate, info.audio_channels) == (rate, len(tones))
    decoder = TrailerDecoder(path, info, DecodePlan([], audio_rates=[12000, 16000, 32000]))
    assert list(decoder.items()) == []
    expected = sorted(f for channel, f in tones.items() if channel != "LFE")
    slack_s = 1024 / rate if codec == "aac" else 0.0  # the AAC encoder may drop a last frame
    for target, audio in decoder.audio.items():
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert -slack_s * target - 2 <= len(audio) - 2 * target <= 2, (target, len(audio))
        middle = audio[target // 2 : target // 2 + target]  # 1 s: 1 Hz bins
        spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
        peaks = [int(i) for i in np.flatnonzero(spectrum > 0.1 * spectrum.max())]
        found = sorted({min(expected, key=lambda f, p=p: abs(f - p)) for p in peaks})
        assert found == expected, (target, peaks)
        assert all(min(abs(p - f) for f in expected) <= 2 for p in peaks), (target, peaks)
        assert 0.05 < float(np.abs(middle).max()) <= 1.0


def test_stage_timings_leave_out_the_time_a_slow_consumer_holds_the_decoder(
    tmp_path: Path, cuts_video_maker
) -> None:
    """A full queue (the models are behind) pauses the decoder at a yield: that is waiting, not
    sampling, and the per-stage table must not blame the decoder for it."""
    import time

    path = cuts_video_maker(tmp_path / "v.mp4", ["red", "green", "blue"], audio=False)
    info = probe(path)
    plan = DecodePlan([FrameSpec("every-k", (("k", 5),), 32), FrameSpec("scene-middle", (), 32)])
    decoder = TrailerDecoder(path, info, plan)
    count = 0
    for _ in decoder.items():
        time.sleep(0.05)
        count += 1
    assert count == 15 + 3
    assert 0.0 <= decoder.timings["sampling"] < 0.25 * 0.05 * count


class _Timed:
    """A decoded frame as `TimestampRepair` sees it (PyAV's `frame.time`: seconds or None)."""

    def __init__(self, time: float | None) -> None:
        self.time = time


@pytest.mark.parametrize(
    ("times", "repaired", "count"),
    [
        ([0.0, 0.04, 0.08, 0.12], [0.0, 0.04, 0.08, 0.12], 0),
        ([0.0, 0.04, 0.40, 0.12, 0.16], [0.0, 0.04, 0.08, 0.12, 0.16], 1),  # one jumps ahead
        ([0.0, 0.04, 0.08, 0.0, 0.16], [0.0, 0.04, 0.08, 0.12, 0.16], 1),  # one goes back
        ([0.0, None, 0.08, None], [0.0, 0.04, 0.08, 0.12], 2),  # missing
        ([0.0, 0.04, 0.04, 0.12], [0.0, 0.04, 0.08, 0.12], 1),  # repeated
        ([0.0, 0.04, 0.06, 0.12], [0.0, 0.04, 0.06, 0.12], 0),  # VFR is not an error
        ([0.5, 0.04, 0.08], [0.0, 0.04, 0.08], 1),  # the first frame out of order
        ([0.0, 0.04, 0.05, 0.045], [0.0, 0.04, 0.0425, 0.045], 1),  # bounded by the next one
    ],
    ids=["in-order", "ahead", "back", "missing", "repeated", "vfr", "first", "close"],
)
def test_timestamp_repair(times: list, repaired: list[float], count: int) -> None:
    from cinefeat.extract.concealment import DecodeIssues, TimestampRepair

    issues = DecodeIssues()
    repair = TimestampRepair(25.0, issues)
    out = [t for time in times for _, t in repair.push(_Timed(time))]
    out += [t for _, t in repair.finish()]
    np.testing.assert_allclose(out, repaired, atol=1e-9)
    assert issues.timestamps_repaired == count


def test_container_bytes_of_avi_mkv_mp4_complete_cut_and_with_garbage(
    tmp_path: Path, run_ffmpeg
) -> None:
    """The size the top-level structure declares: the file's when complete or followed by
    garbage, more than the file when cut; unknown for other formats."""
    from cinefeat.extract.probe import container_bytes

    for suffix in ("avi", "mkv", "mp4"):
        path = tmp_path / f"clip.{suffix}"
        run_ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x36:r=10:d=1", str(path))
        data = path.read_bytes()
        assert container_bytes(path) == len(data), suffix
        cut = tmp_path / f"cut.{suffix}"
        cut.write_bytes(data[: len(data) // 2])
        declared = container_bytes(cut)
        # RIFF and Matroska sizes cover the whole file; an MP4 cut inside its mdat box gives that
        # box's end (the index after it is gone): less than the file, more than the cut
        assert declared == len(data) if suffix != "mp4" else len(data) // 2 < declared < len(data)
        garbage = tmp_path / f"garbage.{suffix}"
        garbage.write_bytes(data + bytes(range(256)) * 4)
        assert container_bytes(garbage) == len(data), suffix
    text = tmp_path / "text.mp4"
    text.write_text("not a video\n" * 10)
    assert container_bytes(text) is None


def test_matroska_segment_of_unknown_size_declares_nothing(tmp_path: Path) -> None:
    """Live Matroska writes the Segment size as all ones (RFC 8794 section 6.2, "unknown data
    size"; libavformat/matroskadec.c accepts it): no size, so no truncation can be claimed."""
    from cinefeat.extract.probe import container_bytes

    ebml_header = b"\x1a\x45\xdf\xa3" + b"\x84" + b"\x42\x86\x81\x01"  # EBMLVersion 1
    segment = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff"
    path = tmp_path / "live.mkv"
    path.write_bytes(ebml_header + segment + b"\x00" * 32)
    assert container_bytes(path) is None
    known = tmp_path / "known.mkv"
    size = b"\x01" + (100).to_bytes(7, "big")  # an 8-byte vint: marker bit, then 56 bits
    known.write_bytes(ebml_header + b"\x18\x53\x80\x67" + size)
    assert container_bytes(known) == 9 + 4 + 8 + 100


def test_probe_says_a_cut_file_without_its_index_is_truncated(tmp_path: Path, cuts_video_maker):
    """The MP4 index (moov) at the end is lost: FFmpeg cannot open it; the message says why."""
    good = cuts_video_maker(tmp_path / "good.mp4", ["red", "blue"])
    data = good.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProbeError, match="not a readable media file") as error:
        probe(path)
    assert re.search(
        rf"it is truncated \({len(data) // 2:,} of the [\d,]+ bytes its container declares\): "
        r"re-download it$",
        str(error.value),
    )


def test_transnetv2_streaming_windows_equal_its_whole_video_prediction() -> None:
    """Windows run as frames come give exactly `predict_frames` on the whole array (the same
    padded inputs), so the same cuts; 76 frames: one window while streaming, one at the end."""
    import torch

    from cinefeat.extract.scenes import TransNetV2SceneDetector

    rng = np.random.default_rng(0)
    frames = np.stack(
        [
            np.clip(rng.normal(i // 30 * 80, 10, (27, 48, 3)), 0, 255).astype(np.uint8)
            for i in range(76)
        ]
    )
    detector = TransNetV2SceneDetector(25.0)
    settled = []
    for index, frame in enumerate(frames):
        detector.push(index, frame)
        settled.append(detector.settled(index))
    assert settled[73] == -1 and settled[74] == 49  # window 0 needs frames 0..74
    assert detector.cuts_so_far(75) == [30]  # final before the end
    cuts = detector.finish(len(frames))
    model = detector._model()
    with torch.inference_mode():
        single, _ = model.predict_frames(torch.from_numpy(frames), quiet=True)
    whole = single.float().numpy()
    np.testing.assert_array_equal(np.concatenate(detector._predictions), whole)
    scenes = model.predictions_to_scenes(whole, 0.5)
    assert cuts == sorted({int(s) for s, _ in scenes if 0 < s < len(frames)}) == [30, 60]


@pytest.mark.parametrize("detector", ["content", "adaptive", "transnetv2"])
def test_every_detector_serves_from_the_one_pass_and_agrees_on_a_remux(
    tmp_path: Path, cuts_video_maker, run_ffmpeg, detector: str
) -> None:
    """No second decode, no seek, for any detector on 8 s of 1 s shots, longer than the 6 s
    buffer (TransNetV2 used to decide at the end, when the first shots' frames had left the
    buffer, and send them to a seeking pass 2); the Matroska remux gives the same."""
    colours = ["red", "green", "blue", "white", "yellow", "black", "cyan", "red"]
    path = cuts_video_maker(tmp_path / "cuts.mp4", colours)
    remux = tmp_path / "cuts.mkv"
    run_ffmpeg("-i", str(path), "-c", "copy", str(remux))
    specs = [
        FrameSpec("scene-middle", (), 32),
        FrameSpec("shot-clips", (("frames_per_clip", 8),), 32, clip=True),
    ]
    results = []
    for source in (path, remux):
        decoder = TrailerDecoder(source, probe(source), DecodePlan(specs, scene_detector=detector))
        items = list(decoder.items())
        assert decoder.second_pass_items == 0 and decoder.frames_decoded == 200
        results.append((decoder.timeline.cuts, [(i.spec.label(), i.span) for i in items]))
    assert results[0] == results[1]
    assert results[0][0] == (25, 50, 75, 100, 125, 150, 175)


class _FakeCodec:
    def __init__(self, held: list) -> None:
        self.name = "fake"
        self.held = held

    def decode(self, packet=None) -> list:
        return self.held if packet is None else []


class _FakeStream:
    """What `decoded_frames` reads of a PyAV stream (index, type, duration, codec context)."""

    def __init__(self, index: int, kind: str, held: list) -> None:
        self.index, self.type = index, kind
        self.duration = self.time_base = self.guessed_rate = self.average_rate = None
        self.codec_context = _FakeCodec(held)


class _FakePacket:
    def __init__(self, stream: _FakeStream, frames: list | Exception) -> None:
        self.stream, self.frames, self.size = stream, frames, 100
        self.duration, self.time_base = 1, Fraction(1, 25)

    def decode(self) -> list:
        if isinstance(self.frames, Exception):
            raise self.frames
        return self.frames


def test_refused_packets_and_a_demuxing_error_end_like_ffmpeg() -> None:
    """A refused packet is counted and skipped; a demuxing error ends the input after the
    decoders give the frames they still hold (ffmpeg: "Error during demuxing", then flush)."""
    import av

    from cinefeat.extract.concealment import DecodeIssues, decoded_frames

    video = _FakeStream(0, "video", held=["held frame"])
    refused = av.InvalidDataError(1094995529, "Invalid data found when processing input")

    class Container:
        def demux(self, streams):
            yield _FakePacket(video, [_Timed(0.0)])
            yield _FakePacket(video, refused)
            yield _FakePacket(video, [_Timed(0.08)])
            raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    issues = DecodeIssues()
    frames = list(decoded_frames(Container(), [video], issues, 25.0))
    assert [getattr(f, "time", f) for f in frames] == [0.0, 0.08, "held frame"]
    stream = issues.streams[0]
    assert (stream.packets, stream.packets_skipped, stream.seconds_missing) == (3, 1, 0.04)
    assert stream.first_error == "[Errno 1094995529] Invalid data found when processing input"
    assert issues.demux_error == stream.first_error
    assert issues.summary() == [
        "video stream 0 (fake): 1 packet of 3 could not be decoded (0.04 s missing, 25.0%): "
        "more than 5% lost, video features failed",
        "reading the file stopped early: [Errno 1094995529] Invalid data found when processing "
        "input",
    ]


def test_only_the_frames_a_sampler_picks_are_converted_to_rgb(
    tmp_path: Path, cuts_video_maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every frame is buffered for `scene-middle`, but only the picked ones pay the full RGB
    conversion (the colour matrix at the model's size); the detector gets its thumbnail from
    the merged planes (scaling.FrameImage)."""
    import cv2

    path = cuts_video_maker(tmp_path / "v.mp4", ["red", "blue", "green"], size="854x480")
    shapes: list[tuple[int, ...]] = []
    transform = cv2.transform
    monkeypatch.setattr(cv2, "transform", lambda *a: (shapes.append(a[0].shape), transform(*a))[1])
    decoder = TrailerDecoder(path, probe(path), DecodePlan([FrameSpec("scene-middle", (), 224)]))
    items = list(decoder.items())
    assert len(items) == 3 and items[0].data.shape == (224, 398, 3)
    assert decoder.frames_decoded == 75 and list(decoder.timeline.cuts) == [25, 50]
    assert Counter(shapes) == {(224, 398, 3): 3, (144, 256, 3): 75}
    assert [int(np.argmax(item.data[112, 199])) for item in items] == [0, 2, 1]  # r, b, g
