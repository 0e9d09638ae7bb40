"""The damaged-media corpus (benchmarks/media_corpus.py builds it with ffmpeg): each case's exact
outcome, and cinefeat decoding at least what `ffmpeg` decodes of the same file.

The corpus is defined once, in the benchmark script, so the table in docs/media-corpus.md is the
corpus tested here; it is loaded by path (benchmarks/ is not a package). The whole corpus is 13
files of 2 s at 160x90 and is extracted once per module (about 3 s on two cores).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cinefeat.extract.decode import DecodePlan, FrameSpec, TrailerDecoder
from cinefeat.extract.plan import pending_features
from cinefeat.extract.probe import probe

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "media_corpus.py"


def _load_corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location("media_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["media_corpus"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus_module()
NAMES = [case.name for case in corpus.CASES]
KEPT = "; audio features kept"
MP3_LOST = "0.03 s missing, 1.3%"
FROM_MEDIA = "durations come from the decoded media"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return corpus.build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def store(files: dict[str, Path]) -> Any:
    return corpus.run_cinefeat(files)


def streams(record: Any) -> dict[str, dict[str, Any]]:
    return {s["kind"]: s for s in record.extra["decode_issues"]["streams"]}


# case -> (stream counts that differ from a clean decode, timestamps repaired, messages); every
# case not marked otherwise keeps both features and the trailer status "ok"
ISSUES: dict[str, tuple[dict[str, dict[str, int]], int, list[str]]] = {
    # ffmpeg: "[ac3] incomplete frame ... corrupt decoded frame": decoded and concealed, kept
    "avi-ac3-last-frame-cut": (
        {"audio": {"packets": 58, "packets_skipped": 0, "frames_concealed": 1}},
        0,
        ["audio stream 1 (ac3): 1 damaged frame concealed by the decoder" + KEPT],
    ),
    # ffmpeg: "Error submitting packet to decoder", and goes on: the issue's message
    "avi-ac3-refused-packet": (
        {"audio": {"packets": 57, "packets_skipped": 1, "frames": 56}},
        0,
        ["audio stream 1 (ac3): 1 packet of 57 could not be decoded (0.03 s missing, 1.8%)" + KEPT],
    ),
    "mp4-audio-packet-and-p-frame": (
        {
            "video": {"packets_skipped": 0, "frames": 50, "frames_concealed": 1},
            "audio": {"packets": 88, "packets_skipped": 1},
        },
        0,
        [
            "video stream 0 (h264): 1 damaged frame concealed by the decoder; video features kept",
            "audio stream 1 (aac): 1 packet of 88 could not be decoded (0.02 s missing, 1.1%)"
            + KEPT,
        ],
    ),
    "mp4-audio-unusable": (
        {"audio": {"packets": 88, "packets_skipped": 11}},
        0,
        [
            "audio stream 1 (aac): 11 packets of 88 could not be decoded (0.26 s missing, 12.6%): "
            "more than 5% lost, audio features failed"
        ],
    ),
    "avi-mpeg4-refused-frame": (
        {"video": {"packets": 50, "packets_skipped": 1, "frames": 49}},
        0,
        [
            "video stream 0 (mpeg4): 1 packet of 50 could not be decoded (0.04 s missing, 2.0%); "
            "video features kept"
        ],
    ),
    "avi-video-unusable": (
        {"video": {"packets": 50, "packets_skipped": 5, "frames": 45}},
        0,
        [
            "video stream 0 (mpeg4): 5 packets of 50 could not be decoded (0.20 s missing, 10.0%): "
            "more than 5% lost, video features failed"
        ],
    ),
    "mkv-timestamps-out-of-order": (
        {},
        1,
        ["1 video timestamp missing or out of order, repaired from the frame rate"],
    ),
    "avi-without-index": ({"video": {"frames": 50}, "audio": {"packets": 58}}, 0, []),
    "mkv-mp3-damaged-header": (
        {"audio": {"codec": "mp3float", "packets": 77, "packets_skipped": 1}},
        0,
        [f"audio stream 1 (mp3float): 1 packet of 77 could not be decoded ({MP3_LOST}){KEPT}"],
    ),
    "mp4-audio-shorter": ({}, 0, ["the audio ends at 1.00 s, 1.00 s before the video (2.00 s)"]),
    "mkv-video-shorter": (
        {"video": {"frames": 25}},
        0,
        ["the video ends at 1.00 s, 1.51 s before the audio (2.51 s)"],
    ),
    "mkv-declared-twice": (
        {},
        0,
        [f"the file declares 4.05 s but its media decode to 2.02 s; {FROM_MEDIA}"],
    ),
    "mkv-declares-10-hours": (
        {},
        0,
        [f"the file declares 36414.00 s but its media decode to 2.02 s; {FROM_MEDIA}"],
    ),
}
# decided: a truncated file that lost more than max_loss of its video is refused, as before, with
# how much was decodable and the advice to re-download it (shorter loss: kept, with a note)
REFUSED = {
    "mp4-truncated-40": "(11,315 of the 28,289 bytes its container declares): the video stream "
    "ends at 0.52 s of the 2.00 s the file declares (26% decodable); re-download it",
    "avi-truncated-40": "(24,831 of the 62,078 bytes its container declares): the video stream "
    "ends at 0.52 s of the 2.00 s the file declares (26% decodable); re-download it",
}


def test_every_case_has_an_expected_outcome() -> None:
    assert sorted(NAMES) == sorted([*ISSUES, *REFUSED])


@pytest.mark.parametrize("name", list(ISSUES))
def test_kept_cases_exact_outcome(store: Any, name: str) -> None:
    counts, repaired, messages = ISSUES[name]
    record = store.record(name)
    assert record.status == "ok" and record.error is None
    issues = record.extra["decode_issues"]
    assert issues["messages"] == messages
    assert issues["timestamps_repaired"] == repaired
    found = streams(record)
    assert sorted(found) == ["audio", "video"]
    for kind, expected in counts.items():
        assert {k: found[kind][k] for k in expected} == expected, kind
    for kind in ("audio", "video"):  # nothing else lost
        if kind not in counts:
            assert found[kind]["packets_skipped"] == found[kind]["frames_concealed"] == 0
    if name == "mp4-audio-unusable":
        assert record.feature_status == {"colorhist": "ok", "loudness": "failed: " + messages[0]}
        assert not store.has(name, "loudness")
    elif name == "avi-video-unusable":
        assert record.feature_status == {"colorhist": "failed: " + messages[0], "loudness": "ok"}
        assert not store.has(name, "colorhist") and len(store.get(name, "loudness")) == 4
    else:
        assert record.feature_status == {"colorhist": "ok", "loudness": "ok"}
        assert len(store.get(name, "colorhist")) >= 1 and len(store.get(name, "loudness")) >= 3


@pytest.mark.parametrize("name", list(REFUSED))
def test_truncated_files_are_refused_saying_how_much_was_decodable(
    store: Any, files: dict[str, Path], name: str
) -> None:
    record = store.record(name)
    assert record.status == "failed" and record.stage == "decode"
    assert (
        record.error
        == f"DecodeError: {files[name]}: the file is truncated or corrupt " + (REFUSED[name])
    )
    assert record.feature_status == {}
    assert not store.has(name, "colorhist") and not store.has(name, "loudness")
    # what was decodable is what ffmpeg decodes of it
    decodable = float(re.search(r"ends at ([\d.]+) s", record.error).group(1))
    assert decodable == pytest.approx(corpus.ffmpeg_decoded(files[name]).video_frames / 25)
    assert record.extra["decode_issues"]["declared_s"] == 2.0


@pytest.mark.parametrize("name", NAMES)
def test_cinefeat_decodes_at_least_what_ffmpeg_decodes(
    store: Any, files: dict[str, Path], name: str
) -> None:
    theirs = corpus.ffmpeg_decoded(files[name])
    record = store.record(name)
    ours = corpus.cinefeat_decoded(record)
    assert theirs.video_frames > 0 and theirs.audio_samples > 0
    assert ours.video_frames >= theirs.video_frames
    assert ours.audio_samples >= theirs.audio_samples  # at the stream's own rate
    if record.status == "ok":  # every decoded frame is on the timeline
        assert record.extra["scenes"]["n_frames"] == ours.video_frames


def test_out_of_order_timestamps_are_repaired_in_place(files: dict[str, Path]) -> None:
    """Frame 24 says 1.16 s between 0.92 and 1.00: it becomes 0.96, and no later frame moves."""
    path = files["mkv-timestamps-out-of-order"]
    decoder = TrailerDecoder(path, probe(path), DecodePlan([FrameSpec("scene-middle", (), 32)]))
    list(decoder.items())
    np.testing.assert_allclose(decoder.timeline.times, np.arange(50) * 0.04, atol=1e-9)
    assert decoder.issues.timestamps_repaired == 1


def test_a_declared_duration_adds_no_audio_windows(store: Any) -> None:
    """Declaring 10 hours used to be refused (or tiled with zeros): the 2.02 s decoded give four
    1 s windows every 0.5 s, the last one ending with the track, and the record's duration is
    the decoded one."""
    record = store.record("mkv-declares-10-hours")
    assert record.duration_s == pytest.approx(2.02, abs=0.01)
    spans = store.get("mkv-declares-10-hours", "loudness").spans
    assert spans[:, 0].tolist() == [0.0, 0.5, 1.0, 1.5]
    assert spans[-1, 1] == pytest.approx(record.duration_s, abs=1e-3)


def test_audio_shorter_than_video_is_silence_to_the_video_end(store: Any) -> None:
    """The decoded video lasts 2 s, the audio 1 s: windows tile the video (the design of the
    audio extractors), the windows past the track are zeros."""
    rows = store.get("mp4-audio-shorter", "loudness")
    assert rows.spans[:, 0].tolist() == [0.0, 0.5, 1.0]
    # lavfi's sine has amplitude 1/8: RMS 0.088
    assert rows.values[0, 0] > 0.05 and rows.values[2, 0] == 0.0


def test_failed_features_wait_for_retry_failed(store: Any) -> None:
    """The audio features of the damaged trailer are not recomputed on every run (the same
    decode would fail them again), only with --retry-failed."""
    names = ["colorhist", "loudness"]
    assert pending_features(store, "mp4-audio-unusable", names, retry_failed=False) == []
    assert pending_features(store, "mp4-audio-unusable", names, retry_failed=True) == ["loudness"]


def test_the_loss_threshold_is_configurable(files: dict[str, Path]) -> None:
    """12.6 % of the audio lost: past the default 5 %, kept under a 20 % threshold."""
    from cinefeat.extract.extractors.colorhist import ColorHistExtractor
    from cinefeat.extract.runner import LocalRunner, RunOptions
    from cinefeat.extract.scan import Trailer
    from cinefeat.store import TrailerRecord
    from cinefeat.store.memory import MemoryStore

    store = MemoryStore()
    extractors = {"colorhist": ColorHistExtractor(), "loudness": corpus.loudness_extractor()}
    options = RunOptions(max_loss=0.2)
    runner = LocalRunner(store, extractors, options, record_factory=TrailerRecord)
    runner.run([Trailer("damaged", files["mp4-audio-unusable"])])
    record = store.record("damaged")
    assert record.feature_status == {"colorhist": "ok", "loudness": "ok"}
    assert record.extra["decode_issues"]["messages"][0].endswith(KEPT)


def test_benchmark_table_lists_every_case(store: Any, files: dict[str, Path]) -> None:
    lines = corpus.table(files, store).splitlines()
    assert lines[0].startswith("| case | ffmpeg frames | cinefeat frames |")
    assert [line.split(" | ")[0][2:] for line in lines[2:]] == NAMES
    assert (
        "| 50 | 50 | 1.745 | 1.765 | colorhist | ok |"
        in lines[2 + NAMES.index("mp4-audio-unusable")]
    )


@pytest.mark.parametrize("name", ["avi-mpeg4-refused-frame", "mkv-timestamps-out-of-order"])
def test_second_pass_on_damaged_files_decodes_in_order_without_seeking(
    files: dict[str, Path], name: str
) -> None:
    """With frames missing or timestamps repaired, a seek could not find a frame again by its
    time: pass 2 (forced here by an empty buffer) decodes from the start, counting frames as
    pass 1 did, and gives exactly the buffered items."""
    path = files[name]
    # full size: both passes convert with the same scaler, so the frames must be identical
    specs = [FrameSpec("scene-middle", (), None), FrameSpec("every-k", (("k", 12),), None)]
    outcomes = []
    for buffer_s in (6.0, 0.0):
        decoder = TrailerDecoder(path, probe(path), DecodePlan(specs, buffer_s=buffer_s))
        items = sorted(decoder.items(), key=lambda item: (item.spec.label(), item.span))
        outcomes.append((decoder.second_pass_items, [(i.spec, i.span, i.data) for i in items]))
    (buffered, first), (second, again) = outcomes
    assert buffered == 0 and second == 1  # the one scene-middle frame
    assert [(s, span) for s, span, _ in first] == [(s, span) for s, span, _ in again]
    for (_, _, one), (_, _, other) in zip(first, again, strict=True):
        np.testing.assert_array_equal(one, other)


def test_a_trailer_feature_of_frames_and_audio_fails_with_its_damaged_stream(
    files: dict[str, Path],
) -> None:
    """A text-like trailer extractor needs the frames and the audio: the audio stream is the
    damaged one, and its message says so."""
    from cinefeat.extract.base import (
        ExtractorConfig,
        FeatureRows,
        FrameRequest,
        TrailerExtractor,
        TrailerRequest,
    )
    from cinefeat.extract.runner import LocalRunner, RunOptions
    from cinefeat.extract.scan import Trailer
    from cinefeat.store import TrailerRecord
    from cinefeat.store.memory import MemoryStore

    class FramesAndAudio(TrailerExtractor):
        name = "frames-and-audio"
        config_class = ExtractorConfig

        @property
        def dim(self) -> int:
            return 1

        def request(self) -> TrailerRequest:
            return TrailerRequest(frames=FrameRequest("every-k", short_side=16), audio_rate=8000)

        def load(self, device: str = "cpu", fp16: bool = False) -> None:
            pass

        def extract_trailer(self, frames, audio, duration_s) -> FeatureRows:
            return FeatureRows(np.ones((1, 1), np.float32), np.array([[0.0, duration_s]]))

    store = MemoryStore()
    runner = LocalRunner(
        store, {"frames-and-audio": FramesAndAudio()}, RunOptions(), record_factory=TrailerRecord
    )
    runner.run(
        [
            Trailer("damaged", files["mp4-audio-unusable"]),
            Trailer("fine", files["mp4-audio-shorter"]),
        ]
    )
    expected = ISSUES["mp4-audio-unusable"][2][0]
    assert store.record("damaged").feature_status == {"frames-and-audio": f"failed: {expected}"}
    assert store.record("fine").feature_status == {"frames-and-audio": "ok"}
