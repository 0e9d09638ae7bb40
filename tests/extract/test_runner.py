"""The local runner against the store contract (an in-memory store with the same semantics)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract.base import (
    AudioRequest,
    BatchExtractor,
    ExtractorConfig,
    FeatureRows,
    FrameRequest,
    MissingInput,
    TrailerExtractor,
    TrailerRequest,
)
from cinefeat.extract.extractors.colorhist import ColorHistExtractor
from cinefeat.extract.runner import LocalRunner, RunOptions
from cinefeat.extract.scan import scan


class Loudness(BatchExtractor):
    """A weight-free audio extractor: RMS of each 1 s window (hop 0.5 s) at 8 kHz."""

    name = "loudness"
    kind = "audio"
    config_class = ExtractorConfig

    @property
    def dim(self) -> int:
        return 1

    def request(self) -> AudioRequest:
        return AudioRequest(sample_rate=8000, window_s=1.0, hop_s=0.5)

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        self.batches: list[int] = []

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        self.batches.append(len(items))
        return np.array([[float(np.sqrt(np.mean(x**2)))] for x in items], np.float32)


class GreenHater(ColorHistExtractor):
    """Fails on any batch holding a mostly green frame (isolation across trailers)."""

    name = "greenhater"

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        for frame in items:
            if frame[..., 1].mean() > 100 and frame[..., 0].mean() < 50:
                raise RuntimeError("green frames are not allowed")
        return super().extract_batch(items)


@pytest.fixture
def data(tmp_path: Path, cuts_video_maker) -> Path:
    root = tmp_path / "data"
    (root / "ünï cöde").mkdir(parents=True)
    cuts_video_maker(root / "with tone.mp4", ["red", "blue"], seconds=1.0)
    cuts_video_maker(root / "silent.mp4", ["white", "black"], seconds=1.0, audio=False)
    cuts_video_maker(root / "ünï cöde" / "half second.mp4", ["red"], seconds=0.5)
    return root


def make(store, record_factory, **extractors) -> LocalRunner:
    return LocalRunner(
        store, extractors, RunOptions(batch_size=4, workers=2), record_factory=record_factory
    )


def test_frames_and_audio_rows_with_spans(data, memory_store, record_factory) -> None:
    trailers = scan(data).trailers
    assert [t.id for t in trailers] == ["silent", "with tone", "ünï cöde/half second"]
    summary = make(
        memory_store, record_factory, colorhist=ColorHistExtractor(), loudness=Loudness()
    ).run(trailers)
    assert (summary.ok, summary.failed, summary.skipped) == (3, 0, 0)
    hist = memory_store.get("with tone", "colorhist")
    assert hist.spans.tolist() == [[0.0, 1.0], [1.0, 2.0]]  # scene-middle of 2 scenes
    assert memory_store.get("silent", "colorhist").values.shape == (2, 128)
    # 2 s tone at 8 kHz, window 1 s, hop 0.5 s -> 3 windows, RMS of a full-scale sine ~ 0.707/8
    loud = memory_store.get("with tone", "loudness")
    assert loud.spans[:, 0].tolist() == [0.0, 0.5, 1.0]
    assert np.all(loud.values[:2, 0] > 0.05)
    # the 0.5 s trailer: one padded window, one scene
    short = memory_store.get("ünï cöde/half second", "loudness")
    assert len(short) == 1 and short.spans[0, 0] == 0.0 and short.spans[0, 1] <= 0.6
    assert len(memory_store.get("ünï cöde/half second", "colorhist")) == 1
    # no audio stream: visual ok, audio recorded missing, not failed
    silent = memory_store.record("silent")
    assert silent.status == "ok"
    assert silent.feature_status == {"colorhist": "ok", "loudness": "missing: no audio stream"}
    assert not memory_store.has("silent", "loudness")
    assert memory_store.provenance("colorhist")["dim"] == 128
    # the shot boundaries are stored with the trailer (frame indices and seconds)
    assert memory_store.record("with tone").extra["scenes"] == {
        "detector": "content",
        "n_frames": 50,
        "cuts": [25],
        "cuts_s": [1.0],
    }
    assert set(summary.stage_s) >= {"probe", "decode", "scenes", "sampling", "models", "write"}


def test_resume_skips_done_and_adds_only_the_new_feature(
    data, memory_store, record_factory
) -> None:
    trailers = scan(data).trailers
    make(memory_store, record_factory, colorhist=ColorHistExtractor()).run(trailers)
    again = make(memory_store, record_factory, colorhist=ColorHistExtractor()).run(trailers)
    assert (again.ok, again.skipped) == (0, 3)
    loud = Loudness()
    added = make(memory_store, record_factory, colorhist=ColorHistExtractor(), loudness=loud).run(
        trailers
    )
    # silent has no audio: computed once (recorded missing), with-tone and the short one: rows
    assert (added.ok, added.skipped) == (3, 0)
    assert sum(loud.batches) == 3 + 1
    assert memory_store.record("with tone").feature_status == {
        "colorhist": "ok",
        "loudness": "ok",
    }  # the status of the feature computed earlier is carried forward
    third = make(
        memory_store, record_factory, colorhist=ColorHistExtractor(), loudness=Loudness()
    ).run(trailers)
    assert (third.ok, third.skipped) == (0, 3)


def test_batches_span_trailers(data, memory_store, record_factory) -> None:
    loud = Loudness()
    runner = LocalRunner(
        memory_store,
        {"loudness": loud},
        RunOptions(batch_size=64, workers=1, max_wait_s=600),
        record_factory=record_factory,
    )
    runner.run(scan(data).trailers)
    assert loud.batches == [4]  # 3 windows + 1 window of two trailers in one batch


def test_a_finished_trailer_is_committed_without_waiting_for_others(
    data, memory_store, record_factory
) -> None:
    """Batches span trailers only for `max_wait_s`: then a finished trailer is committed, so a
    run killed early keeps it (issue 16: six early kills in a row used to save nothing)."""
    commits: list[list[str]] = []
    writer = memory_store.writer()
    original = writer.commit

    def spy() -> int:
        commits.append(sorted(record.id for record, _ in writer._pending))
        return original()

    writer.commit = spy
    loud = Loudness()
    runner = LocalRunner(
        memory_store,
        {"loudness": loud},
        RunOptions(batch_size=64, workers=1, max_wait_s=0.0),
        record_factory=record_factory,
    )
    runner.run(scan(data).trailers, writer=writer)
    assert [ids for ids in commits if ids] == [["silent"], ["with tone"], ["ünï cöde/half second"]]
    assert loud.batches == [3, 1]  # each trailer's windows ran as soon as it was decoded


def test_model_failure_isolated_to_its_trailer(
    tmp_path, cuts_video_maker, memory_store, record_factory
) -> None:
    root = tmp_path / "d"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red", "blue"], audio=False)
    cuts_video_maker(root / "b.mp4", ["green", "blue"], audio=False)
    cuts_video_maker(root / "c.mp4", ["white"], audio=False)
    summary = make(memory_store, record_factory, greenhater=GreenHater()).run(scan(root).trailers)
    assert (summary.ok, summary.failed) == (2, 1)
    failed = memory_store.record("b")
    assert (failed.status, failed.stage) == ("failed", "models")
    assert "green frames are not allowed" in failed.error
    assert memory_store.has("a", "greenhater") and not memory_store.has("b", "greenhater")
    # failed trailers are skipped on rerun unless retry_failed
    rerun = make(memory_store, record_factory, greenhater=GreenHater()).run(scan(root).trailers)
    assert (rerun.skipped, rerun.failed) == (3, 0)
    retry = LocalRunner(
        memory_store,
        {"greenhater": GreenHater()},
        RunOptions(retry_failed=True),
        record_factory=record_factory,
    )
    assert retry.run(scan(root).trailers).failed == 1


class FrameCounter(TrailerExtractor):
    """A trailer-level extractor: one row (number of frames it got, seconds of audio it got)."""

    name = "framecounter"
    config_class = ExtractorConfig

    @property
    def dim(self) -> int:
        return 2

    def request(self) -> TrailerRequest:
        frames = FrameRequest("every-seconds", (("interval_s", 0.5),), short_side=16)
        return TrailerRequest(frames=frames, audio_rate=8000)

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        pass

    def extract_trailer(self, frames, audio, duration_s):
        if audio is None or len(audio) == 0:
            raise MissingInput("no audio")
        assert frames is not None and all(f.shape[0] == 16 for f, _ in frames)
        spans = [span for _, span in frames]
        return FeatureRows(
            np.array([[len(frames), len(audio) / 8000]], np.float32),
            np.array([[spans[0][0], spans[-1][1]]]),
            texts=[{"text": f"{len(frames)} frames"}],
        )


def test_trailer_extractor_gets_frames_and_audio(data, memory_store, record_factory) -> None:
    summary = make(memory_store, record_factory, framecounter=FrameCounter()).run(
        scan(data).trailers
    )
    assert (summary.ok, summary.failed) == (3, 0)
    rows = memory_store.get("with tone", "framecounter")
    assert rows.values.tolist() == [[4.0, 2.0]]  # 2 s: frames at 0, 0.5, 1, 1.5 s; 2 s of audio
    assert rows.spans.tolist() == [[0.0, 2.0]] and rows.texts == [{"text": "4 frames"}]
    silent = memory_store.record("silent")
    assert silent.feature_status == {"framecounter": "missing: no audio stream"}


class WrongDim(ColorHistExtractor):
    """Claims 128 values per row but returns 3: the store refuses the rows."""

    name = "wrongdim"

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        return np.zeros((len(items), 3), np.float32)


def test_rows_the_store_refuses_fail_only_that_trailer(data, tmp_path) -> None:
    from cinefeat.store import FeatureStore

    store = FeatureStore.create(tmp_path / "s")
    runner = LocalRunner(store, {"wrongdim": WrongDim()}, RunOptions())
    summary = runner.run(scan(data).trailers)
    assert (summary.ok, summary.failed) == (0, 3)
    record = FeatureStore.open(tmp_path / "s").record("silent")
    assert (record.status, record.stage) == ("failed", "write")
    assert "dim 3 but the feature was declared with dim 128" in record.error


def test_a_model_error_fails_only_its_feature_and_retry_recomputes_only_it(
    tmp_path, cuts_video_maker, memory_store, record_factory
) -> None:
    root = tmp_path / "d"
    root.mkdir()
    cuts_video_maker(root / "b.mp4", ["green", "blue"], audio=False)
    extractors = {"colorhist": ColorHistExtractor(), "greenhater": GreenHater()}
    summary = make(memory_store, record_factory, **extractors).run(scan(root).trailers)
    assert (summary.ok, summary.failed, list(summary.partial)) == (1, 0, ["b"])
    record = memory_store.record("b")
    assert (record.status, record.outcome) == ("ok", "partial")
    assert record.feature_status["colorhist"] == "ok"
    assert record.feature_status["greenhater"].startswith("failed: models: ")
    assert "green frames are not allowed" in record.feature_status["greenhater"]
    assert memory_store.has("b", "colorhist") and not memory_store.has("b", "greenhater")
    # a rerun leaves the failed feature alone; --retry-failed recomputes it and nothing else
    rerun = make(memory_store, record_factory, **extractors).run(scan(root).trailers)
    assert (rerun.ok, rerun.skipped) == (0, 1)
    hist = ColorHistExtractor()
    retry = LocalRunner(
        memory_store,
        {"colorhist": hist, "greenhater": GreenHater()},
        RunOptions(retry_failed=True),
        record_factory=record_factory,
    )
    again = retry.run(scan(root).trailers)
    # still failing; colorhist was not recomputed (the store refuses a second copy of its rows,
    # which would have failed the trailer at write)
    assert list(again.partial) == ["b"] and again.failed == 0
    assert memory_store.record("b").feature_status["colorhist"] == "ok"


def test_decoding_runs_opencv_on_one_thread_and_restores_its_count(
    data, memory_store, record_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenCV's pool costs more CPU than it saves on the decode pass's small frames
    (`scaling.serial_opencv`); the caller's thread count comes back after the run."""
    import cv2

    import cinefeat.extract.decode as decode

    seen: list[int] = []
    create = decode.create_scene_detector

    def recording(*args, **kwargs):
        detector = create(*args, **kwargs)
        push = detector.push
        detector.push = lambda index, frame: (seen.append(cv2.getNumThreads()), push(index, frame))
        return detector

    monkeypatch.setattr(decode, "create_scene_detector", recording)
    previous = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        trailers = scan(data).trailers
        summary = make(memory_store, record_factory, colorhist=ColorHistExtractor()).run(trailers)
        assert summary.ok == 3
        assert seen and set(seen) == {1}
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(previous)
