"""The extractor contract: what every feature extractor is, and what it asks of the pipeline.

Why this shape (after lhotse's `FeatureExtractor`): the pipeline decodes each trailer once and cuts
it into *items* (keyframes, clips, audio windows) with time spans; extractors never open files. An
extractor only says which items it needs (a request), turns a batch of items into vectors, and
describes itself for the store's provenance. Batches may mix items from several trailers, which is
what keeps a GPU busy on short trailers.

Two kinds:

- `BatchExtractor`: one vector per item (CLIP/ViT frames, I3D clips, PANNs/VGGish/AST/Choi audio
  windows). The pipeline owns spans and batching.
- `TrailerExtractor`: works on a whole decoded trailer and returns its own rows and spans (OCR and
  ASR followed by a text encoder: the number of rows depends on the recognised text).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from cinefeat.store import registry
from cinefeat.store.errors import CinefeatError
from cinefeat.store.provenance import provenance_hash
from cinefeat.store.rows import FeatureRows

Kind = Literal["frames", "clips", "audio", "trailer"]


@dataclass(frozen=True)
class FrameRequest:
    """Single RGB frames chosen by a named frame sampler (`scene-middle`, `every-k`, ...).

    `short_side` is the resolution the extractor wants frames decoded at (the pipeline resizes while
    decoding so memory stays bounded); `None` keeps the source size.
    """

    sampler: str = "scene-middle"
    sampler_options: tuple[tuple[str, Any], ...] = ()
    short_side: int | None = 256


@dataclass(frozen=True)
class ClipRequest:
    """Stacks of consecutive frames (`shot-clips` of f frames, or fixed stacks at a frame rate)."""

    sampler: str = "shot-clips"
    frames_per_clip: int = 24
    fps: float | None = None
    sampler_options: tuple[tuple[str, Any], ...] = ()
    short_side: int | None = 256


@dataclass(frozen=True)
class AudioRequest:
    """Mono float32 windows at one sample rate; the last window is zero-padded to `window_s`.

    Windows start at 0, `hop_s`, 2 `hop_s`, ... and tile the whole trailer (its video duration D;
    an audio track that ends earlier is silence to the end): 1 + ceil((D - window_s) / hop_s) of
    them, so a trailer shorter than one window yields exactly one padded window.
    """

    sample_rate: int
    window_s: float
    hop_s: float


@dataclass(frozen=True)
class TrailerRequest:
    """What a `TrailerExtractor` needs from the decoded trailer."""

    frames: FrameRequest | None = None
    audio_rate: int | None = None


Request = FrameRequest | ClipRequest | AudioRequest | TrailerRequest

__all__ = ["FeatureRows"]  # re-exported: the row type of the store contract


@dataclass
class ExtractorConfig:
    """Base class of every extractor's config dataclass (fields are recorded in provenance)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LoadError(CinefeatError):
    """`Extractor.load` cannot load the model: missing, corrupt or foreign weights, or a config
    the weights do not fit. The run stops with the message (which names the fix); errors of the
    weights table, checkpoint readers and extractors subclass it, so the CLI catches one type."""


class MissingInput(Exception):
    """The trailer lacks what this extractor needs (e.g. no audio stream): recorded as `missing`,
    not `failed`, and the other features of the trailer are still written."""


def half_precision(device: str, fp16: bool | None) -> bool:
    """What `load(..., fp16=)` gets when the user said `fp16` (None: nothing): half precision by
    default on CUDA only; an explicit choice wins (on a CPU, `nets.runtime.half_dtype` decides
    whether bfloat16 is native there)."""
    return device.startswith("cuda") if fp16 is None else fp16


class Extractor(ABC):
    """Common part of both kinds. Subclasses set `name`, `kind` and a config dataclass."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
    config_class: ClassVar[type[ExtractorConfig]] = ExtractorConfig
    uses_device: ClassVar[bool] = True
    """False for extractors without a network (they ignore `load`'s device)."""

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        base = config if config is not None else self.config_class()
        if overrides:
            base = type(base)(**{**asdict(base), **overrides})
        self.config = base
        self.device = "cpu"
        self.fp16 = False

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of each stored vector."""

    @abstractmethod
    def request(self) -> Request:
        """What the pipeline must cut out of each decoded trailer for this extractor."""

    @abstractmethod
    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        """Load verified weights from the model registry onto `device`; called once per worker.

        `fp16` asks for half precision: float16 on CUDA, bfloat16 on a CPU with native bf16
        instructions, fp32 elsewhere (`nets.runtime.half_dtype`); an extractor whose model gains
        nothing from it may ignore it."""

    def capabilities(self) -> registry.Capabilities:
        """What this extractor, with its config, needs of the run (read from `request()`)."""
        request = self.request()
        frames = request.frames if isinstance(request, TrailerRequest) else request
        if isinstance(request, AudioRequest):
            audio_rate: int | None = request.sample_rate
        else:
            audio_rate = request.audio_rate if isinstance(request, TrailerRequest) else None
        visual = isinstance(frames, (FrameRequest, ClipRequest))
        return registry.Capabilities(
            device=self.uses_device,
            frames=visual,
            short_side=frames.short_side if visual else None,
            clips=isinstance(frames, ClipRequest),
            audio_rate=audio_rate,
            scenes=uses_scenes(request),
        )

    def model_info(self) -> dict[str, Any]:
        """Model id, weights sha256, layer: overridden by extractors with pretrained weights."""
        return {}

    def provenance(self, scene_detector: str | None = None) -> dict[str, Any]:
        """Everything the store records about how this feature was made.

        `scene_detector`: the run's detector, recorded as `sampling.scene_detector` when this
        extractor's frames depend on scenes (`uses_scenes`). The hash is the store's own
        (`provenance_hash`), so it equals what the store records for the same settings.
        """
        request = self.request()
        sampling = _request_dict(request)
        if scene_detector is not None and uses_scenes(request):
            sampling["scene_detector"] = scene_detector
        info: dict[str, Any] = {
            "extractor": self.name,
            "kind": self.kind,
            "dim": self.dim,
            "config": self.config.to_dict(),
            "sampling": sampling,
            **self.model_info(),
        }
        info["config_hash"] = provenance_hash(json.loads(json.dumps(info, default=str)))
        return info


class BatchExtractor(Extractor):
    """One vector per item; the pipeline batches items across trailers."""

    @abstractmethod
    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        """Items -> (len(items), dim) float32.

        Items are HxWx3 uint8 RGB frames (`frames`), TxHxWx3 uint8 stacks (`clips`) or 1-D float32
        mono waveforms of equal length (`audio`).
        """


class TrailerExtractor(Extractor):
    """Works on a whole decoded trailer (text features)."""

    kind: ClassVar[Kind] = "trailer"

    @abstractmethod
    def extract_trailer(
        self,
        frames: list[tuple[np.ndarray, tuple[float, float]]] | None,
        audio: np.ndarray | None,
        duration_s: float,
    ) -> FeatureRows:
        """Frames (with their spans) and/or mono audio at `request().audio_rate` -> rows."""


def _request_dict(request: Request) -> dict[str, Any]:
    out = asdict(request)
    out["type"] = type(request).__name__
    return out


def uses_scenes(request: Request) -> bool:
    """True when the items depend on the scene detector: clips, or frames picked per scene (the
    sampler says so: `needs_scenes`)."""
    from cinefeat.extract.samplers import SAMPLERS

    frames = request.frames if isinstance(request, TrailerRequest) else request
    if isinstance(frames, ClipRequest):
        return True
    return isinstance(frames, FrameRequest) and SAMPLERS[frames.sampler].needs_scenes


class Registry(registry.Registry[Extractor]):
    """Name -> extractor class, filled by `@register_extractor`; the CLI's choices come from it."""

    def __init__(self, kind: str = "feature") -> None:
        super().__init__(kind)


EXTRACTORS = Registry()
register_extractor = EXTRACTORS.register
