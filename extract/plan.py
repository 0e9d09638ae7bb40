"""From the selected extractors to what the decoder must produce, and what is already done.

Why separate from the runner: "which items does this set of extractors need" and "which features
of this trailer still need computing" are pure functions of the extractors and the store, easy to
test without decoding anything, and both the local and the Ray engine use them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cinefeat.extract.base import (
    AudioRequest,
    BatchExtractor,
    ClipRequest,
    Extractor,
    FrameRequest,
    TrailerExtractor,
    TrailerRequest,
)
from cinefeat.extract.decode import DecodePlan, FrameSpec
from cinefeat.extract.scan import SCAN_STAGE


def frame_spec(request: FrameRequest | ClipRequest) -> FrameSpec:
    if isinstance(request, ClipRequest):
        options = dict(request.sampler_options)
        options.setdefault("frames_per_clip", request.frames_per_clip)
        if request.fps is not None:
            options.setdefault("fps", request.fps)
        return FrameSpec(
            request.sampler, tuple(sorted(options.items())), request.short_side, clip=True
        )
    return FrameSpec(request.sampler, tuple(sorted(request.sampler_options)), request.short_side)


@dataclass
class FeaturePlan:
    """Which decoded inputs each extractor consumes."""

    extractors: dict[str, Extractor]
    spec_of: dict[str, FrameSpec] = field(default_factory=dict)  # frame/clip batch extractors
    audio_of: dict[str, AudioRequest] = field(default_factory=dict)  # audio batch extractors
    trailer_frames_of: dict[str, FrameSpec] = field(default_factory=dict)
    trailer_audio_of: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, extractors: dict[str, Extractor]) -> FeaturePlan:
        plan = cls(extractors)
        for name, extractor in extractors.items():
            request = extractor.request()
            if isinstance(extractor, TrailerExtractor):
                if not isinstance(request, TrailerRequest):
                    raise TypeError(f"{name}: a TrailerExtractor must request a TrailerRequest")
                if request.frames is not None:
                    plan.trailer_frames_of[name] = frame_spec(request.frames)
                if request.audio_rate is not None:
                    plan.trailer_audio_of[name] = request.audio_rate
            elif isinstance(request, AudioRequest):
                plan.audio_of[name] = request
            elif isinstance(request, (FrameRequest, ClipRequest)) and isinstance(
                extractor, BatchExtractor
            ):
                plan.spec_of[name] = frame_spec(request)
            else:
                raise TypeError(f"{name}: unsupported request {type(request).__name__}")
        return plan

    def decode_plan(
        self, names: Iterable[str], scene_detector: str, scene_options: dict[str, Any] | None = None
    ) -> DecodePlan:
        """The decoder's work for the features `names` of one trailer."""
        wanted = set(names)
        specs = {self.spec_of[n] for n in wanted if n in self.spec_of}
        specs |= {self.trailer_frames_of[n] for n in wanted if n in self.trailer_frames_of}
        rates = {self.audio_of[n].sample_rate for n in wanted if n in self.audio_of}
        rates |= {self.trailer_audio_of[n] for n in wanted if n in self.trailer_audio_of}
        return DecodePlan(
            sorted(specs, key=FrameSpec.label),
            sorted(rates),
            scene_detector,
            dict(scene_options or {}),
        )

    def needs_audio(self, name: str) -> bool:
        return name in self.audio_of or name in self.trailer_audio_of


def pending_features(
    store: Any, trailer_id: str, features: list[str], retry_failed: bool
) -> list[str] | None:
    """Features still to compute for a trailer; None = skip it (failed before, no --retry-failed).

    A feature is done when its rows are committed, or when the last record says it is `missing`
    (e.g. no audio stream: rerunning would not change that) or, without `retry_failed`, `failed`
    (e.g. its stream is too damaged: rerunning would decode the same file again). A failure at
    stage `scan` (an id collision, see extract/collisions.py) is about the directory, not the
    file: it never blocks the next run, which sees whether the collision is gone.
    """
    record = last_record(store, trailer_id)
    blocking = record is not None and record.status == "failed" and record.stage != SCAN_STAGE
    if blocking and not retry_failed:
        return None
    status = dict(record.feature_status or {}) if record is not None else {}
    out = []
    for name in features:
        if str(status.get(name, "")).startswith("missing"):
            continue
        if str(status.get(name, "")).startswith("failed") and not retry_failed:
            continue
        if store.has(trailer_id, name):
            continue
        out.append(name)
    return out


def last_record(store: Any, trailer_id: str) -> Any:
    """The trailer's last committed record, or None."""
    try:
        return store.record(trailer_id)
    except KeyError:
        return None
