"""The local engine: probe -> decode/sample -> models -> write, for a list of trailers.

Why this shape (after PySceneDetect's threaded decode and lhotse's batch extraction): decoding runs
in `workers` background threads that push items into one bounded queue (PyAV releases the GIL while
decoding), while the calling thread runs the models on batches that span trailers, so a GPU stays
busy on short trailers and decoding of the next trailers overlaps inference.

Memory per worker (one process of the local engine, or one Ray actor), the models aside:
- per decode thread, one trailer's decoder (see extract/decode.py): FFmpeg's own decoder at the
  source resolution (H.264 reference frames plus one frame per decoder thread: about 100 MB at
  1080p, 400 MB at 4K), `buffer_s` seconds of frames, held as their merged planes until a sampler
  picks one (6 s at 24 fps and 224 px: 56 MB from 1080p, 100 MB from 720p), and the only parts
  that grow with the trailer: 0.4 MB per minute of frame times and histograms (TransNetV2: a
  fixed 0.5 MB) and the audio track, 4 bytes per sample per rate (16 kHz: 3.8 MB per minute);
- the item queue: at most `queue_size` items (64: 17 MB of 224 px frames, but 540 MB of 24-frame
  I3D clips at 256 px: lower `queue_size` for I3D on small machines);
- the batch buffers: fewer than `batch_size` items per frame spec and per audio feature;
- at most `workers + max_waiting` trailers in flight, each with its vectors and the frames a text
  extractor asked for (OCR: one 360 px frame every 2 s, 21 MB per minute of trailer).
So with `workers=1`, the defaults and 1080p trailers a worker stays under about 0.3 GB besides its
models (1 GB with I3D), plus about 5-30 MB per minute of the trailers in flight: a 3-minute
trailer and a 3-hour film differ only in those per-minute terms, never in decoded video.
"Its models" means their weights *and* their working memory for one batch: measured on a 3-minute
1080p video (benchmarks/throughput.py, docs/bench-extract.md) the pipeline itself took 0.10-0.13
GB over the loaded process, but musicnet's batch of 29 s mel windows added 0.49 GB, OCR 0.34 GB
and ASR 0.19 GB beyond their loaded weights.

Failure isolation: an exception while probing or decoding a trailer marks that trailer `failed`
with the stage and message; the others go on. An exception in a model on a trailer's items fails
only that feature (`failed: models: ...`); its other features are committed and the trailer is
*partial* (status `ok`; `--retry-failed` recomputes just the failed feature). A trailer all of
whose features failed, with nothing ok from an earlier run, is `failed`. An extractor that needs
audio on a trailer without an audio stream records the feature as `missing`, not failed. Damaged
media is decoded as ffmpeg decodes it (see extract/concealment.py): the record keeps what was lost
(`extra["decode_issues"]`), and a stream that lost more than `max_loss` of its duration fails only
the features that need it (`failed: audio stream 1 (ac3): ...`); the others are committed.
Each finished trailer is committed to the store within `max_wait_s` (5 s) of its decoding ending
(batches span trailers only that long): a killed run loses at most the trailers in flight, and a
rerun recomputes exactly those (see `plan.pending_features`).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cinefeat.extract.base import (
    BatchExtractor,
    Extractor,
    MissingInput,
    TrailerExtractor,
    half_precision,
)
from cinefeat.extract.concealment import DecodeIssues
from cinefeat.extract.decode import FrameSpec, TrailerDecoder
from cinefeat.extract.plan import FeaturePlan, last_record, pending_features
from cinefeat.extract.probe import ProbeInfo, probe
from cinefeat.extract.samplers import audio_windows, cut_window
from cinefeat.extract.scaling import serial_opencv
from cinefeat.extract.scan import Trailer
from cinefeat.extract.scenes import SCENE_DETECTORS
from cinefeat.extract.summary import STAGES, Summary
from cinefeat.store.rows import FeatureRows

log = logging.getLogger(__name__)

NO_AUDIO = "missing: no audio stream"


@dataclass
class RunOptions:
    device: str = "cpu"
    # half precision: None = on CUDA only; True on a CPU = bfloat16 where native (nets/runtime.py)
    fp16: bool | None = None
    batch_size: int = 32
    workers: int = 1
    queue_size: int = 64
    max_waiting: int = 8  # decoded trailers waiting for a full batch before partial batches run
    # ... or once the oldest of them has waited this long: a finished trailer reaches the store
    # within seconds, so a killed run loses only the trailers in flight (not up to 8 finished ones)
    max_wait_s: float = 5.0
    retry_failed: bool = False
    scene_detector: str = "content"
    run_id: str = "run"
    worker_id: str = "0"
    dtype: str = "float16"
    # a stream that lost more than this share of its duration to undecodable packets is unusable
    max_loss: float = 0.05
    # the command's effective settings, recorded in every part this run writes (--config)
    run_config: dict[str, Any] | None = None
    hwaccel: str = "none"  # video decoder: none (software), auto or cuda (extract/hwdecode.py)
    decoder_threads: int = 0  # per trailer's video decoder; 0: FFmpeg's choice (see decode.py)


@dataclass
class _Trailer:
    """A trailer in flight: what it needs, what it has, how long each stage took."""

    trailer: Trailer
    features: list[str]
    info: ProbeInfo | None = None
    sha256: str | None = None
    rows: dict[str, list[tuple[np.ndarray, tuple[float, float]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    trailer_frames: dict[FrameSpec, list[tuple[np.ndarray, tuple[float, float]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    texts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    feature_status: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    in_flight: int = 0  # items in batch buffers
    decoded: bool = False
    decoded_at: float = 0.0  # perf_counter() when decoding finished
    error: tuple[str, str] | None = None  # (stage, message)
    scenes: dict[str, Any] | None = None  # the shot boundaries found while decoding
    decode_issues: DecodeIssues | None = None  # what decoding lost or repaired
    decoded_s: float | None = None  # end of the decoded media (the declared one may be wrong)


def default_record_factory(**fields: Any) -> Any:
    from cinefeat.store.record import TrailerRecord

    return TrailerRecord(**fields)


class LocalRunner:
    """Runs extractors over trailers into one store writer (one part)."""

    def __init__(
        self,
        store: Any,
        extractors: dict[str, Extractor],
        options: RunOptions,
        record_factory: Callable[..., Any] = default_record_factory,
        on_trailer: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.extractors = extractors
        self.options = options
        self.plan = FeaturePlan.build(extractors)
        self.record_factory = record_factory
        self.on_trailer = on_trailer or (lambda: None)
        self.loaded = False
        self._declared: set[int] = set()

    def load(self) -> None:
        """Load every model once (per worker)."""
        device = self.options.device
        fp16 = half_precision(device, self.options.fp16)
        for extractor in self.extractors.values():
            extractor.load(device=device, fp16=fp16)
        self.loaded = True

    def todo(self, trailers: list[Trailer]) -> tuple[list[tuple[Trailer, list[str]]], int]:
        """(trailers with their pending features, number skipped)."""
        names = list(self.extractors)
        refresh = getattr(self.store, "refresh", None)
        if refresh is not None:  # see what other processes committed since the store was opened
            refresh()
        out, skipped = [], 0
        for trailer in trailers:
            pending = pending_features(self.store, trailer.id, names, self.options.retry_failed)
            if not pending:
                skipped += 1
            else:
                out.append((trailer, pending))
        return out, skipped

    def run(self, trailers: list[Trailer], writer: Any = None) -> Summary:
        """Process `trailers` (skipping done ones) into a new part, or into `writer`'s part (a Ray
        actor keeps one writer for all the chunks it is given)."""
        started = time.perf_counter()
        work, skipped = self.todo(trailers)
        summary = Summary(skipped=skipped)
        for _ in range(skipped):
            self.on_trailer()
        if work:
            if not self.loaded:
                self.load()
            with serial_opencv():  # see scaling.py: small frames, the pool costs more than it gives
                if writer is not None:
                    self._declare(writer)
                    self._run(work, writer, summary)
                else:
                    with self.store.writer(
                        run=self.options.run_id,
                        worker=self.options.worker_id,
                        run_config=self.options.run_config,
                    ) as w:
                        self._declare(w)
                        self._run(work, w, summary)
        summary.wall_s = time.perf_counter() - started
        return summary

    def _declare(self, writer: Any) -> None:
        """Declare every feature once per writer."""
        if id(writer) in self._declared:
            return
        for name, extractor in self.extractors.items():
            writer.declare_feature(
                name,
                provenance=self._provenance(name, extractor),
                dim=extractor.dim,
                dtype=self.options.dtype,
            )
        self._declared.add(id(writer))

    def _provenance(self, name: str, extractor: Extractor) -> dict[str, Any]:
        """The extractor's provenance, with the scene detector when its frames depend on scenes
        (added before the hash is computed, so the hash covers it)."""
        return extractor.provenance(scene_detector=self.options.scene_detector)

    # -- the two sides of the queue ---------------------------------------------------------------

    def _run(self, work: list[tuple[Trailer, list[str]]], writer: Any, summary: Summary) -> None:
        items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=self.options.queue_size)
        todo: queue.Queue[tuple[Trailer, list[str]] | None] = queue.Queue()
        for entry in work:
            todo.put(entry)
        workers = max(1, self.options.workers)
        for _ in range(workers):
            todo.put(None)
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=self._decode_worker,
                args=(todo, items, stop),
                daemon=True,
                name=f"decode-{i}",
            )
            for i in range(workers)
        ]
        for thread in threads:
            thread.start()
        buffers: dict[FrameSpec, list[tuple[_Trailer, np.ndarray, tuple[float, float]]]] = (
            defaultdict(list)
        )
        audio_buffers: dict[str, list[tuple[_Trailer, np.ndarray, tuple[float, float]]]] = (
            defaultdict(list)
        )
        waiting: list[_Trailer] = []
        finished_workers = 0
        try:
            while finished_workers < workers:
                try:
                    kind, payload = items.get(timeout=self.options.max_wait_s)
                except queue.Empty:  # nothing decoded for a while: still commit who is ready
                    kind, payload = "tick", None
                if kind == "end":
                    finished_workers += 1
                elif kind == "item":
                    state, item = payload
                    if state.error is None:
                        self._route_item(state, item, buffers)
                elif kind == "done":
                    state, decoder = payload
                    state.decoded = True
                    state.decoded_at = time.perf_counter()
                    if state.error is None:
                        self._trailer_level(state, decoder, audio_buffers)
                    waiting.append(state)
                flush = bool(waiting) and (
                    len(waiting) >= self.options.max_waiting
                    or time.perf_counter() - waiting[0].decoded_at >= self.options.max_wait_s
                )
                self._run_batches(buffers, audio_buffers, force=flush)
                waiting = self._write_ready(waiting, writer, summary)
            self._run_batches(buffers, audio_buffers, force=True)
            waiting = self._write_ready(waiting, writer, summary)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)

    def _decode_worker(self, todo: queue.Queue, items: queue.Queue, stop: threading.Event) -> None:
        while not stop.is_set():
            entry = todo.get()
            if entry is None:
                items.put(("end", None))
                return
            trailer, features = entry
            state = _Trailer(trailer, features)
            decoder = None
            stage = "probe"
            try:
                tick = time.perf_counter()
                state.info = probe(trailer.path)
                state.sha256 = _sha256(trailer.path)
                state.timings["probe"] = time.perf_counter() - tick
                stage = "decode"
                names = [f for f in features if not self._missing_audio(state, f)]
                detector = self.options.scene_detector
                scene_options = (
                    {"device": self.options.device}
                    if SCENE_DETECTORS.capabilities(detector).device
                    else {}
                )
                decode_plan = self.plan.decode_plan(
                    names, self.options.scene_detector, scene_options
                )
                decode_plan.max_loss = self.options.max_loss
                decode_plan.hwaccel = self.options.hwaccel
                decode_plan.threads = self.options.decoder_threads
                decoder = TrailerDecoder(trailer.path, state.info, decode_plan)
                for item in decoder.items():
                    if stop.is_set():
                        return
                    items.put(("item", (state, item)))
                for key, seconds in decoder.timings.items():
                    state.timings[key] += seconds
            except Exception as error:
                log.debug("%s failed at %s:\n%s", trailer.id, stage, traceback.format_exc())
                state.error = (stage, f"{type(error).__name__}: {error}")
            if decoder is not None:  # kept for every decoded trailer: counts, even when clean
                state.decode_issues = decoder.issues
                state.decoded_s = decoder.issues.decoded_s
                for line in decoder.issues.summary():
                    log.warning("%s: %s", trailer.id, line)
            items.put(("done", (state, decoder)))

    def _missing_audio(self, state: _Trailer, name: str) -> bool:
        if state.info is not None and not state.info.has_audio and self.plan.needs_audio(name):
            state.feature_status[name] = NO_AUDIO
            return True
        return False

    # -- models ----------------------------------------------------------------------------------

    def _route_item(self, state: _Trailer, item: Any, buffers: dict) -> None:
        wanted = [n for n in state.features if self.plan.spec_of.get(n) == item.spec]
        if wanted:
            buffers[item.spec].append((state, item.data, item.span))
            state.in_flight += 1
        if any(self.plan.trailer_frames_of.get(n) == item.spec for n in state.features):
            state.trailer_frames[item.spec].append((item.data, item.span))

    def _trailer_level(self, state: _Trailer, decoder: TrailerDecoder, audio_buffers: dict) -> None:
        """At the end of a trailer's decode: cut audio windows, run trailer extractors."""
        timeline = decoder.timeline
        duration = timeline.duration_s if timeline is not None else 0.0  # the decoded video's end
        if timeline is not None:
            state.scenes = {
                "detector": self.options.scene_detector,
                "n_frames": timeline.n_frames,
                "cuts": [int(c) for c in timeline.cuts],
                "cuts_s": [round(float(timeline.times[c]), 6) for c in timeline.cuts],
            }
        issues = decoder.issues
        video_failure, audio_failure = issues.failure("video"), issues.failure("audio")
        for name in state.features:
            if name in state.feature_status:
                continue
            extractor = self.extractors[name]
            needs_video = name in self.plan.spec_of or name in self.plan.trailer_frames_of
            failure = (video_failure if needs_video else None) or (
                audio_failure if self.plan.needs_audio(name) else None
            )
            if failure is not None:  # its stream is too damaged: only this feature fails
                state.feature_status[name] = f"failed: {failure}"
                continue
            if name in self.plan.audio_of:
                request = self.plan.audio_of[name]
                audio = decoder.audio.get(request.sample_rate)
                if audio is None or len(audio) == 0:
                    state.feature_status[name] = NO_AUDIO
                    continue
                window = max(1, round(request.window_s * request.sample_rate))
                # windows tile the decoded trailer: an audio track that ends before the decoded
                # video is silence to its end (the samples past the track are zeros, see
                # `cut_window`), but a duration the file merely declares never adds windows (a
                # 39 KB file declaring 10 hours gave 1,284 windows of zeros)
                samples = max(len(audio), round(duration * request.sample_rate))
                for start, stop, span in audio_windows(
                    samples, request.sample_rate, request.window_s, request.hop_s
                ):
                    audio_buffers[name].append(
                        (state, cut_window(audio, start, stop, window), span)
                    )
                    state.in_flight += 1
            elif isinstance(extractor, TrailerExtractor):
                self._run_trailer_extractor(state, name, extractor, decoder)

    def _run_trailer_extractor(
        self, state: _Trailer, name: str, extractor: TrailerExtractor, decoder: TrailerDecoder
    ) -> None:
        frames = None
        if name in self.plan.trailer_frames_of:
            frames = state.trailer_frames.get(self.plan.trailer_frames_of[name], [])
        audio = None
        if name in self.plan.trailer_audio_of:
            audio = decoder.audio.get(self.plan.trailer_audio_of[name])
        duration = decoder.timeline.duration_s if decoder.timeline else 0.0
        tick = time.perf_counter()
        try:
            rows = extractor.extract_trailer(frames, audio, duration)
        except MissingInput as error:
            state.feature_status[name] = f"missing: {error}"
            return
        except Exception as error:
            _fail_feature(state, name, f"models: {type(error).__name__}: {error}")
            return
        finally:
            state.timings["models"] += time.perf_counter() - tick
        state.rows[name] = [
            (row, tuple(span)) for row, span in zip(rows.values, rows.spans, strict=True)
        ]
        state.feature_status[name] = "ok"
        if rows.texts is not None:
            state.texts[name] = rows.texts

    def _run_batches(self, buffers: dict, audio_buffers: dict, force: bool) -> None:
        size = max(1, self.options.batch_size)
        for spec, buffer in buffers.items():
            names = [n for n, s in self.plan.spec_of.items() if s == spec]
            while len(buffer) >= size or (force and buffer):
                batch, buffer[:] = buffer[:size], buffer[size:]
                self._apply(names, batch)
        for name, buffer in audio_buffers.items():
            while len(buffer) >= size or (force and buffer):
                batch, buffer[:] = buffer[:size], buffer[size:]
                self._apply([name], batch)

    def _apply(self, names: list[str], batch: list[tuple[_Trailer, np.ndarray, Any]]) -> None:
        """Run every extractor consuming this batch; on error, isolate the failing trailers."""
        for name in names:
            members = [(s, d, span) for s, d, span in batch if name in s.features]
            if members:
                self._apply_one(name, members)
        for state, _, _ in batch:
            state.in_flight -= 1

    def _apply_one(self, name: str, members: list[tuple[_Trailer, np.ndarray, Any]]) -> None:
        extractor = self.extractors[name]
        assert isinstance(extractor, BatchExtractor)  # FeaturePlan only routes batch extractors
        # a feature that already failed on a trailer is not run again on its later items
        members = [m for m in members if not _has_failed(m[0], name)]
        if not members:
            return
        tick = time.perf_counter()
        try:
            vectors = extractor.extract_batch([data for _, data, _ in members])
        except Exception:
            by_trailer: dict[int, list] = defaultdict(list)
            for member in members:
                by_trailer[id(member[0])].append(member)
            if len(by_trailer) > 1:
                for group in by_trailer.values():
                    self._apply_one(name, group)
                return
            state = members[0][0]
            _fail_feature(state, name, f"models: {traceback.format_exc(limit=1).strip()}")
            return
        elapsed = time.perf_counter() - tick
        for (state, _, span), vector in zip(members, vectors, strict=True):
            state.rows[name].append((vector, span))
            state.timings["models"] += elapsed / len(members)

    # -- write -----------------------------------------------------------------------------------

    def _write_ready(
        self, waiting: list[_Trailer], writer: Any, summary: Summary
    ) -> list[_Trailer]:
        still = []
        wrote = False
        for state in waiting:
            if state.in_flight > 0:
                still.append(state)
                continue
            self._write(state, writer, summary)
            wrote = True
        if wrote:
            tick = time.perf_counter()
            writer.commit()
            summary.stage_s["write"] += time.perf_counter() - tick
        return still

    def _write(self, state: _Trailer, writer: Any, summary: Summary) -> None:
        tick = time.perf_counter()
        features: dict[str, FeatureRows] = {}
        if state.error is None and state.features and self._nothing_usable(state):
            # every feature of this run failed and none is ok from an earlier run: the trailer
            # failed, at the first failure (stream damage is a decode failure)
            first = next(f for f in state.features if _has_failed(state, f))
            text = str(state.feature_status[first]).removeprefix("failed: ")
            stage = "models" if text.startswith("models: ") else "decode"
            state.error = (stage, f"{first}: {text.removeprefix('models: ')}")
        if state.error is None:
            for name in state.features:
                if str(state.feature_status.get(name, "")).startswith(("missing", "failed")):
                    continue
                dim = self.extractors[name].dim
                rows = state.rows.get(name, [])
                values = (
                    np.stack([v for v, _ in rows]).astype(np.float32)
                    if rows
                    else np.zeros((0, dim), np.float32)
                )
                spans = np.array([s for _, s in rows], dtype=np.float64).reshape(-1, 2)
                order = np.argsort(spans[:, 0], kind="stable")
                texts = state.texts.get(name)
                features[name] = FeatureRows(
                    values[order], spans[order], [texts[i] for i in order] if texts else texts
                )
                state.feature_status[name] = "ok"
        try:
            self._add(state, writer, features)
        except Exception as error:  # rows the store refuses fail this trailer only
            state.error = ("write", f"{type(error).__name__}: {error}")
            self._add(state, writer, {})
        state.timings["write"] += time.perf_counter() - tick
        for key, seconds in state.timings.items():
            summary.stage_s[key] = summary.stage_s.get(key, 0.0) + seconds
        if state.error is None:
            summary.ok += 1
            failed = {
                name: status
                for name, status in state.feature_status.items()
                if str(status).startswith("failed")
            }
            if failed:
                summary.partial[state.trailer.id] = failed
        else:
            stage, message = state.error
            summary.failed += 1
            summary.failures.append((state.trailer.id, stage, message))
            log.warning("%s failed at %s: %s", state.trailer.id, stage, message)
        messages = state.decode_issues.summary() if state.decode_issues is not None else []
        if messages:
            summary.decode_issues[state.trailer.id] = list(messages)
        self.on_trailer()

    def _add(self, state: _Trailer, writer: Any, features: dict[str, FeatureRows]) -> None:
        status = "ok" if state.error is None else "failed"
        stage, message = state.error if state.error else (None, None)
        extra: dict[str, Any] = {"scenes": state.scenes} if state.scenes is not None else {}
        duration = state.decoded_s or (state.info.duration_s if state.info else None)
        if state.decode_issues is not None:
            extra["decode_issues"] = state.decode_issues.to_record()
        record = self.record_factory(
            id=state.trailer.id,
            source_path=str(state.trailer.path),
            source_sha256=state.sha256,
            duration_s=duration,
            status=status,
            stage=stage,
            error=message,
            timings=dict(state.timings),
            # a failed trailer keeps why each feature failed (a damaged stream, a model error)
            feature_status=self._merged_status(state)
            if status == "ok"
            else {k: v for k, v in state.feature_status.items() if str(v).startswith("failed")},
            extra=extra,
        )
        writer.add(record, features=features)

    def _nothing_usable(self, state: _Trailer) -> bool:
        if not all(_has_failed(state, f) for f in state.features):
            return False
        previous = last_record(self.store, state.trailer.id)
        if previous is None or previous.status != "ok":
            return True
        earlier = {k: v for k, v in previous.feature_status.items() if k not in state.features}
        return not any(str(v) == "ok" for v in earlier.values())

    def _merged_status(self, state: _Trailer) -> dict[str, str]:
        """This run's feature statuses over the previous record's (the last record wins, so a run
        adding one feature must carry the others' status forward)."""
        previous = last_record(self.store, state.trailer.id)
        merged = dict(previous.feature_status or {}) if previous is not None else {}
        if previous is not None and previous.status != "ok":
            merged = {}
        merged.update(state.feature_status)
        return merged


def _fail_feature(state: _Trailer, name: str, message: str) -> None:
    """Only `name` fails on this trailer: its rows are dropped, its other features go on."""
    state.feature_status[name] = f"failed: {message}"
    state.rows.pop(name, None)
    state.texts.pop(name, None)


def _has_failed(state: _Trailer, name: str) -> bool:
    return str(state.feature_status.get(name, "")).startswith("failed")


def _sha256(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
