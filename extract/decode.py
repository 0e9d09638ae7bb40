"""Decode a trailer once and cut it into the items every selected extractor needs.

Why this shape: decoding is the floor of extraction cost, so it happens once per trailer for all
features. One PyAV loop demuxes video and audio together:

- every video frame is converted as far as every frame needs (`scaling.FrameImage`: on the
  fast path its planes box-averaged and merged for the largest size anything needs), the scene
  detector's bilinear thumbnail (and from it the colour histograms) is made from that, and pushed
  to the streaming scene detector; the full RGB conversion runs only for the frames a sampler
  picks (a fifth of the per-frame cost on 720p, measured in docs/bench-extract.md);
- frames whose index is known in advance (`every-k`) are scaled to each requesting extractor's
  size and emitted as they pass;
- for scene-dependent samplers (`scene-middle`, `shot-clips`), the last `buffer_s` seconds of
  frames are kept at each requested size; whenever the detector makes a cut final, the scenes
  before it are sampled and served from that buffer; full `shot-clips` of a shot still going on
  are served as soon as the detector has settled their frames (no later cut can fall inside
  them), so a long shot's clips never wait for its end;
- audio frames are converted to float32 mono once per needed sample rate by FFmpeg's resampler.

Only selections older than the buffer when they became final (scene-middle frames of shots longer
than about 2 x (`buffer_s` - the detector's lag); every detector, `transnetv2` included, reports
cuts as it goes) need a second, partial pass: it decodes up to the last such frame, seeking over
gaps longer than `seek_gap_s` (an accurate seek to the keyframe before), matching frames to pass-1
indices by timestamp; on a file whose timestamps were repaired or whose video lost packets it
decodes from the start without seeking, matching frames by their count.

Damaged media is decoded as `ffmpeg -f null` decodes it (`concealment.py`): a packet a decoder
refuses is skipped and counted per stream, missing or backward video timestamps are repaired from
the frame rate, and `issues` keeps what was lost for the trailer's record. Durations come from the
media: the timeline ends where the decoded video (or audio) ends, never at a declared duration
beyond it. A *truncated* file (shorter than its container's headers say, see `probe.py`) whose
video stops more than `max_loss` before the declared duration is refused with a `DecodeError` that
says how much was decodable; that is the one case where "re-download it" is the right advice. A
file that is complete but declares a wrong duration is kept, with a note.

Memory bound per trailer, whatever its length: `buffer_s * fps` buffered frames, each held as its
merged planes (`FrameImage`: at 224 px short side between 1 and 4 times the 0.27 MB of the RGB
frame, 720p: 0.7 MB, 1080p and 4K: 0.4 MB; at 24 fps 6 s = 144 frames = 56-100 MB) plus, for the
frames served from the buffer, the RGB frame, one pending frame per `every-k` spec, one
clip per clip spec, the detector's state (TransNetV2: 0.5 MB, and 4 bytes per frame), and 8 + 256
bytes (time, histogram) per frame. Items are yielded, not collected. Audio is kept whole: 4 bytes
per sample per rate (16 kHz: 3.8 MB per minute), because audio windows overlap and text extractors
need the track.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.extract.concealment import (
    DURATION_NOTE_S,
    DecodeIssues,
    TimestampRepair,
    decoded_frames,
)
from cinefeat.extract.framebuffer import GrowingArray, RecentFrames
from cinefeat.extract.hwdecode import note_stream, open_video
from cinefeat.extract.probe import ProbeInfo
from cinefeat.extract.samplers import (
    FrameSampler,
    Selection,
    Timeline,
    colour_histogram,
    create_sampler,
)
from cinefeat.extract.scaling import FrameImage, frame_to_rgb, resized
from cinefeat.extract.scenes import create_scene_detector
from cinefeat.store.errors import CinefeatError

HISTOGRAM_SIZE = (64, 36)
HISTOGRAM_BINS = 4


class DecodeError(CinefeatError):
    """The trailer cannot be decoded at all: no video frame, or a truncated file (message says
    how much was decodable)."""


@dataclass(frozen=True)
class FrameSpec:
    """Frames (or clips of frames) one or more extractors want: sampler + options + size."""

    sampler: str
    options: tuple[tuple[str, Any], ...] = ()
    short_side: int | None = 256
    clip: bool = False

    def label(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.options)
        kind = "clips" if self.clip else "frames"
        return f"{kind}:{self.sampler}" + (f"({opts})" if opts else "") + f"@{self.short_side}"


@dataclass(frozen=True)
class Item:
    """One sampled item: a frame (H, W, 3) or a clip (T, H, W, 3) uint8 RGB, and its span."""

    spec: FrameSpec
    data: np.ndarray
    span: tuple[float, float]


@dataclass
class DecodePlan:
    frame_specs: list[FrameSpec] = field(default_factory=list)
    audio_rates: list[int] = field(default_factory=list)
    scene_detector: str = "content"
    scene_options: dict[str, Any] = field(default_factory=dict)
    # 6 s: scene-middle frames of shots up to ~11 s come from the buffer (trailer_bbb: no pass 2,
    # 1675 -> 1323 frames decoded); 4 s sent 4 of its keyframes to pass 2 (0.8 s of CPU)
    buffer_s: float = 6.0
    seek_gap_s: float = 4.0
    # a stream that lost more than this share of its duration to refused packets is unusable:
    # the features that need it fail, the others are kept (a truncated file: see the module doc)
    max_loss: float = 0.05
    # video decoder: "none" (software), "auto" or "cuda" (NVDEC where it works; see hwdecode.py)
    hwaccel: str = "none"
    # FFmpeg's video decoder threads: 0 lets FFmpeg choose (one per core of the machine); several
    # worker processes share the cores, so `processes.py` gives each its share
    threads: int = 0


def scaled_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(w, h) with the short side at `short_side` (even numbers, for 4:2:0 chroma), aspect kept."""
    if short_side is None or min(width, height) <= short_side:
        return width, height
    scale = short_side / min(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class TrailerDecoder:
    """`items()` yields the sampled items; afterwards `timeline`, `audio`, `timings` are set."""

    def __init__(self, path: str | Path, info: ProbeInfo, plan: DecodePlan) -> None:
        self.path = str(path)
        self.info = info
        self.plan = plan
        self.timeline: Timeline | None = None
        self.audio: dict[int, np.ndarray] = {}
        self.timings: dict[str, float] = {"decode": 0.0, "scenes": 0.0, "sampling": 0.0}
        self.frames_decoded = 0
        self.second_pass_items = 0
        self.issues = DecodeIssues(max_loss=plan.max_loss)
        self._offset = 0.0
        self._leftover: list[tuple[FrameSpec, Selection]] = []

    def items(self) -> Iterator[Item]:
        import av

        try:
            yield from self._unpaused(self._pass_one())
            if self.timeline is None or self.timeline.n_frames == 0:
                video = self.issues.unusable("video")
                why = f" ({video.describe()})" if video is not None else ""
                raise DecodeError(f"{self.path}: no video frame could be decoded{why}")
            yield from self._unpaused(self._pass_two())
        except av.FFmpegError as error:  # opening or seeking: decoding errors are concealed
            raise DecodeError(f"{self.path}: reading the file failed ({error})") from None

    def _unpaused(self, items: Iterator[Item]) -> Iterator[Item]:
        """`items`, with the time the consumer kept this generator suspended (a full queue
        waiting for the models) taken out of the stage timings: every yield happens inside a
        sampling interval, so that is where the pause was counted."""
        for item in items:
            paused = time.perf_counter()
            yield item
            self.timings["sampling"] -= time.perf_counter() - paused

    def size_of(self, spec: FrameSpec) -> tuple[int, int]:
        return scaled_size(*self.info.display_size, spec.short_side)

    # -- pass 1 ---------------------------------------------------------------------------------

    def _pass_one(self) -> Iterator[Item]:
        import av

        info = self.info
        detector = create_scene_detector(
            self.plan.scene_detector, info.fps, **self.plan.scene_options
        )
        detector_size = detector.input_size(*info.display_size)
        samplers = {s: create_sampler(s.sampler, s.options) for s in self.plan.frame_specs}
        streaming = [(s, m) for s, m in samplers.items() if not s.clip and not m.needs_scenes]
        scene_specs = [(s, m) for s, m in samplers.items() if s.clip or m.needs_scenes]
        buffered_sizes = sorted({self.size_of(s) for s, _ in scene_specs})
        # one RGB conversion per frame, to the largest size anything needs; smaller ones by cv2
        needed = {detector_size, *buffered_sizes, *(self.size_of(s) for s, _ in streaming)}
        work_size = max(needed, key=lambda size: size[0] * size[1])
        recent: RecentFrames[FrameImage] = RecentFrames(
            round(self.plan.buffer_s * info.fps) if scene_specs else 0
        )
        emitted = dict.fromkeys((s for s, _ in scene_specs), 0)
        opened = dict.fromkeys((s for s, _ in scene_specs), 0)  # served early from the open shot
        need_histograms = any(m.uses_histograms for m in samplers.values())
        # the detector's frame is a cheaper source of the histograms when it is large enough
        histogram_from_detector = (
            min(detector_size[0] - HISTOGRAM_SIZE[0], detector_size[1] - HISTOGRAM_SIZE[1]) >= 0
        )
        times = GrowingArray()
        histograms = GrowingArray((HISTOGRAM_BINS**3,), np.float32)
        pending: dict[FrameSpec, tuple[int, np.ndarray]] = {}  # last pick of each streaming spec
        rates = sorted(set(self.plan.audio_rates)) if info.has_audio else []
        resamplers = {r: av.AudioResampler(format="flt", layout="mono", rate=r) for r in rates}
        audio_parts: dict[int, list[np.ndarray]] = {rate: [] for rate in resamplers}
        closed = 0  # frames before this index belong to scenes already sampled

        started = time.perf_counter()
        scene_time = sample_time = 0.0
        issues = self.issues
        repair = TimestampRepair(info.fps, issues)
        with open_video(self.path, self.plan.hwaccel) as container:
            video = container.streams.video[0]
            self._threads(video)
            note_stream(self.plan.hwaccel, video)
            streams = [video]
            audio_seconds = None
            issues.stream(video, info.fps)
            if resamplers:
                audio_stream = container.streams.audio[0]
                streams.append(audio_stream)
                issues.stream(audio_stream, info.fps)
                if audio_stream.duration is not None and audio_stream.time_base is not None:
                    audio_seconds = float(audio_stream.duration * audio_stream.time_base)
            frames = decoded_frames(container, streams, issues, info.fps)
            for frame, raw in _timed(frames, repair):
                if raw is None:  # an audio frame
                    for rate, resampler in resamplers.items():
                        for out in resampler.resample(frame):
                            audio_parts[rate].append(out.to_ndarray().reshape(-1).copy())
                    continue
                index = len(times)
                if index == 0:
                    self._offset = raw  # spans are relative to the first video frame
                times.append(raw - self._offset)
                # converted as far as the detector needs (counted as decoding); the rest of the
                # RGB conversion only for the frames a sampler picks (see FrameImage)
                work = FrameImage(frame, work_size, info.rotation)
                tick = time.perf_counter()
                # bilinear, as PySceneDetect downscales for its own detectors
                for_detector = work.scaled(detector_size)
                detector.push(index, for_detector)
                if need_histograms:
                    source = for_detector if histogram_from_detector else work.rgb()
                    small = resized(source, HISTOGRAM_SIZE)
                    histograms.append(colour_histogram(small, HISTOGRAM_BINS))
                final = detector.cuts_so_far(index)
                scene_time += time.perf_counter() - tick
                tick = time.perf_counter()
                for size in buffered_sizes:
                    recent.add(index, size, work)
                now = raw - self._offset
                for spec, sampler in streaming:
                    if sampler.wants(index, now):
                        # the previous pick of this spec ends where this one starts
                        if spec in pending:
                            first, data = pending.pop(spec)
                            yield Item(spec, data, (float(times.view()[first]), now))
                        pending[spec] = (index, work.at(self.size_of(spec)))
                if final and final[-1] > closed:
                    closed = final[-1]
                    prefix = Timeline(
                        times.view()[:closed],
                        float(times.view()[closed]),
                        tuple(c for c in final if c < closed),
                        histograms.view()[:closed] if need_histograms else None,
                    )
                    yield from self._serve(prefix, scene_specs, emitted, recent)
                    opened = dict.fromkeys(opened, 0)
                settled = detector.settled(index)
                if scene_specs and settled > closed:
                    yield from self._serve_open(
                        Timeline(
                            times.view()[: settled + 1],
                            float(times.view()[settled]),
                            (),
                            histograms.view()[: settled + 1] if need_histograms else None,
                        ),
                        closed,
                        settled,
                        scene_specs,
                        (emitted, opened),
                        recent,
                    )
                sample_time += time.perf_counter() - tick
            for rate, resampler in resamplers.items():
                for out in resampler.resample(None):
                    audio_parts[rate].append(out.to_ndarray().reshape(-1).copy())
        self.frames_decoded += len(times)
        tick = time.perf_counter()
        cuts = detector.finish(len(times))
        scene_time += time.perf_counter() - tick
        tick = time.perf_counter()
        n = len(times)
        self.audio = {}
        for rate, parts in audio_parts.items():
            track = np.concatenate(parts) if parts else np.zeros(0, np.float32)
            if audio_seconds:  # drop encoder padding past the declared duration (AAC)
                track = track[: round(audio_seconds * rate)]
            self.audio[rate] = track
        video_end = float(times.view()[-1]) + _frame_step(times.view(), info.fps) if n else 0.0
        self._check_durations(video_end)
        self.timeline = Timeline(
            times.view().copy(),
            video_end,
            tuple(cuts),
            histograms.view().copy() if need_histograms else None,
        )
        for spec, (first, data) in pending.items():
            yield Item(spec, data, (float(self.timeline.times[first]), self.timeline.end_of(n - 1)))
        if n:
            yield from self._serve(self.timeline, scene_specs, emitted, recent)
        sample_time += time.perf_counter() - tick
        total = time.perf_counter() - started
        self.timings["scenes"] += scene_time
        self.timings["sampling"] += sample_time
        self.timings["decode"] += total - scene_time - sample_time

    def _check_durations(self, video_end: float) -> None:
        """Refuse a truncated file that lost more than `max_loss` of its video; note declared and
        decoded durations that disagree (the timeline and the audio keep what was decoded)."""
        info, issues = self.info, self.issues
        audio_end = max((len(t) / rate for rate, t in self.audio.items()), default=None)
        issues.decoded_s = max(video_end, audio_end or 0.0)
        # an AVI cut before its index declares its frame count in the header, not its duration
        declared = max(info.duration_s, info.n_frames / info.fps if info.fps > 0 else 0.0)
        issues.declared_s = declared
        short = declared - video_end
        present = f"{info.file_bytes:,} of the {info.container_bytes or 0:,} bytes"
        if info.truncated and video_end > 0 and short > self.plan.max_loss * declared:
            raise DecodeError(
                f"{self.path}: the file is truncated or corrupt ({present} its container "
                f"declares): the video stream ends at {video_end:.2f} s of the {declared:.2f} s "
                f"the file declares ({video_end / declared:.0%} decodable); re-download it"
            )
        if info.truncated:
            issues.notes.append(
                f"the file is truncated ({present} its container declares); the video ends "
                f"{max(short, 0.0):.2f} s before the declared {declared:.2f} s: kept"
            )
        tolerance = max(DURATION_NOTE_S, self.plan.max_loss * declared)
        if abs(declared - issues.decoded_s) > tolerance:
            issues.notes.append(
                f"the file declares {declared:.2f} s but its media decode to "
                f"{issues.decoded_s:.2f} s; durations come from the decoded media"
            )
        if audio_end is not None and audio_end > 0 and abs(video_end - audio_end) > tolerance:
            first, ends, other = (
                ("audio", audio_end, video_end)
                if audio_end < video_end
                else ("video", video_end, audio_end)
            )
            issues.notes.append(
                f"the {first} ends at {ends:.2f} s, {other - ends:.2f} s before the "
                f"{'video' if first == 'audio' else 'audio'} ({other:.2f} s)"
            )

    def _serve(
        self,
        timeline: Timeline,
        scene_specs: list[tuple[FrameSpec, FrameSampler]],
        emitted: dict[FrameSpec, int],
        recent: RecentFrames[FrameImage],
    ) -> Iterator[Item]:
        """Items of the scenes in `timeline` not served yet: from the buffer, else to pass 2."""
        for spec, sampler in scene_specs:
            selections = sampler.select(timeline)
            yield from self._from_buffer(spec, selections[emitted[spec] :], recent)
            emitted[spec] = len(selections)

    def _from_buffer(
        self, spec: FrameSpec, selections: list[Selection], recent: RecentFrames
    ) -> Iterator[Item]:
        """Items of `selections` whose frames are still buffered; the others go to pass 2."""
        size = self.size_of(spec)
        for selection in selections:
            indices = selection.indices if spec.clip else (selection.representative,)
            images = [recent.get(i, size) for i in indices]
            if any(image is None for image in images):
                self._leftover.append((spec, selection))
                continue
            frames = [image.at(size) for image in images if image is not None]
            if spec.clip:
                yield Item(spec, np.stack(frames), selection.span)
            else:
                yield Item(spec, frames[0], selection.span)

    def _serve_open(
        self,
        timeline: Timeline,
        start: int,
        settled: int,
        scene_specs: list[tuple[FrameSpec, FrameSampler]],
        counts: tuple[dict[FrameSpec, int], dict[FrameSpec, int]],
        recent: RecentFrames[FrameImage],
    ) -> Iterator[Item]:
        """Selections of the still open shot that no later cut can change (full `shot-clips`), so
        a long shot's clips come from the buffer instead of pass 2. They count as served: when
        the shot closes, `_serve` skips them (they are its first selections)."""
        emitted, opened = counts
        for spec, sampler in scene_specs:
            early = sampler.select_open(timeline, start, settled, opened[spec])
            if not early:
                continue
            opened[spec] += len(early)
            emitted[spec] += len(early)
            yield from self._from_buffer(spec, early, recent)

    # -- pass 2 ---------------------------------------------------------------------------------

    def _pass_two(self) -> Iterator[Item]:
        """Selections the buffer could not serve, by a partial decode with seeks."""
        if not self._leftover:
            return
        timeline = self.timeline
        if timeline is None:
            raise DecodeError(f"{self.path}: pass 2 needs the timeline of pass 1")
        wanted: dict[int, list[tuple[FrameSpec, Selection]]] = {}
        clips: dict[tuple[FrameSpec, Selection], dict[int, np.ndarray]] = {}
        for spec, selection in self._leftover:
            indices = set(selection.indices) if spec.clip else {selection.representative}
            for index in indices:
                wanted.setdefault(index, []).append((spec, selection))
            if spec.clip:
                clips[(spec, selection)] = {}
        started = time.perf_counter()
        produced = 0.0
        for index, frame in self._frames_at(sorted(wanted), timeline):
            tick = time.perf_counter()
            for spec, selection in wanted[index]:
                data = self._scaled(frame, self.size_of(spec))
                if not spec.clip:
                    self.second_pass_items += 1
                    yield Item(spec, data, selection.span)
                    continue
                got = clips[(spec, selection)]
                got[index] = data
                if len(got) == len(set(selection.indices)):
                    stack = np.stack([got[i] for i in selection.indices])
                    del clips[(spec, selection)]
                    self.second_pass_items += 1
                    yield Item(spec, stack, selection.span)
            produced += time.perf_counter() - tick
        self.timings["sampling"] += produced
        self.timings["decode"] += time.perf_counter() - started - produced

    def _frames_at(self, indices: list[int], timeline: Timeline) -> Iterator[tuple[int, Any]]:
        """Decoded frames for sorted `indices`, seeking over gaps longer than `seek_gap_s`; from
        the start without seeking when pass 1 repaired timestamps or skipped video packets (then
        timestamps cannot find a frame again, but the same decode gives the same frames)."""
        video_issues = [s for s in self.issues.streams.values() if s.kind == "video"]
        if self.issues.timestamps_repaired or any(s.packets_skipped for s in video_issues):
            yield from self._frames_in_order(indices)
            return
        gap = max(1, round(self.plan.seek_gap_s * self.info.fps))
        times = timeline.times
        with open_video(self.path, self.plan.hwaccel) as container:
            video = container.streams.video[0]
            self._threads(video)
            base = video.time_base
            next_index = -1  # pass-1 index of the next frame the decoder will give
            decoder = None
            for target in indices:
                if decoder is None or target - next_index > gap:
                    seconds = times[target] + self._offset - 0.5 / self.info.fps
                    pts = int(seconds / base) if target > gap else 0
                    container.seek(max(pts, 0), stream=video, backward=True, any_frame=False)
                    decoder = container.decode(video)
                for frame in decoder:
                    t = _frame_time(frame, -1, self.info.fps) - self._offset
                    position = int(np.clip(np.searchsorted(times, t - 1e-4), 0, len(times) - 1))
                    next_index = position + 1
                    self.frames_decoded += 1
                    if position == target:
                        yield target, frame
                        break
                    if position > target:
                        raise DecodeError(
                            f"{self.path}: frame {target} was not found again after a seek "
                            f"(got frame {position}); the file's timestamps are unreliable"
                        )
                else:
                    raise DecodeError(f"{self.path}: stream ended before frame {target}")

    def _frames_in_order(self, indices: list[int]) -> Iterator[tuple[int, Any]]:
        """Frames `indices` by decoding from the start, counting frames as pass 1 did."""
        wanted = set(indices)
        scratch = DecodeIssues(max_loss=self.plan.max_loss)
        with open_video(self.path, self.plan.hwaccel) as container:
            video = container.streams.video[0]
            self._threads(video)
            frames = decoded_frames(container, [video], scratch, self.info.fps)
            for index, frame in enumerate(frames):
                self.frames_decoded += 1
                if index in wanted:
                    yield index, frame
                    wanted.discard(index)
                    if not wanted:
                        return
        if wanted:
            raise DecodeError(f"{self.path}: stream ended before frame {min(wanted)}")

    def _threads(self, video: Any) -> None:
        """Frame and slice threads (FFmpeg's choice of which), `plan.threads` of them if set."""
        video.thread_type = "AUTO"
        if self.plan.threads > 0:
            video.thread_count = self.plan.threads

    def _scaled(self, frame: Any, size: tuple[int, int]) -> np.ndarray:
        """RGB uint8 at display `size` (w, h), upright (see `scaling.py`)."""
        return frame_to_rgb(frame, size, self.info.rotation)


def _timed(frames: Iterator[Any], repair: TimestampRepair) -> Iterator[tuple[Any, float | None]]:
    """(frame, time): video frames with repaired times, audio frames with None."""
    import av

    for frame in frames:
        if isinstance(frame, av.AudioFrame):
            yield frame, None
        else:
            yield from repair.push(frame)
    yield from repair.finish()


def _frame_step(times: np.ndarray, fps: float) -> float:
    """How long the last frame lasts: the median decoded frame interval, not 1 / the average rate
    (libavformat derives that from the declared duration, so a file declaring 10 hours for 8 s of
    frames would "last" hours after its last frame)."""
    if len(times) >= 2:
        return float(np.median(np.diff(times)))
    return 1.0 / fps if fps > 0 else 0.0


def _frame_time(frame: Any, index: int, fps: float) -> float:
    if frame.time is not None:
        return float(frame.time)
    return index / fps if index >= 0 else 0.0
