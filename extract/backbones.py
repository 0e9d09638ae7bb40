"""Pretrained backbones as data: which network, which weights, which layer, which input.

Why (after open_clip's model and pretrained tables): what turns a published classifier into a
feature extractor is a handful of facts — the library that defines the architecture, the weights
file, the layer whose output is the feature (the pooled vector before the classifier), the input
it was trained on (resize, crop, mean/std, clip length and frame rate) — and those facts belong
in one table that docs, `cinefeat models list` and tests read, not in code paths. A backbone is a
`Backbone` entry; the `image` and `video` extractors run any entry of their kind through
`BackboneExtractor`, with the batching and half-precision rules of `nets.runtime`.

Entries come from three places: torchvision's ImageNet and Kinetics-400 classifiers
(`torchvision_backbones.py`, weights on download.pytorch.org with the sha256 prefix in the file
name), the Places365 ResNet of MIT CSAIL (a pickled training dict, read by the restricted
unpickler), and any timm model by name (`timm:<architecture>[.<tag>]`, its `model.safetensors` on
the Hugging Face hub, preprocessing from timm's own pretrained config).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import ClipRequest, FrameRequest, LoadError
from cinefeat.extract.pretrained_extractor import PretrainedExtractor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputSpec:
    """What the network was trained on: frames resized to `resize` on the short side, centre
    crop `crop`, normalised by `mean`/`std`; video networks take `frames` frames at `fps`."""

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    frames: int | None = None
    fps: float | None = None
    interpolation: str = "bilinear"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Backbone:
    """One network used as a feature. `build()` returns the architecture, randomly initialised,
    with the classifier replaced by an identity, so its output is the feature (`layer`)."""

    name: str
    kind: Literal["frames", "clips"]
    weights: str  # an entry of the weights table (`pretrained`)
    build: Callable[[], Any]
    dim: int
    input: InputSpec
    layer: str
    description: str
    state_key: str | None = None  # the state dict sits under this key (a training checkpoint)
    strip_prefix: str = ""  # e.g. "module." of nn.DataParallel
    drop_prefixes: tuple[str, ...] = ()  # classifier tensors the feature does not use
    used_by: str = ""


BACKBONES: dict[str, Backbone] = {}
_RESOLVERS: list[Callable[[str], Backbone | None]] = []


def register_backbone(backbone: Backbone) -> Backbone:
    if backbone.name in BACKBONES and BACKBONES[backbone.name] != backbone:
        raise ValueError(f"backbone {backbone.name!r} registered twice with different data")
    BACKBONES[backbone.name] = backbone
    return backbone


def register_backbone_resolver(resolve: Callable[[str], Backbone | None]) -> None:
    """Open-ended families (every timm model) make their entry on first use of a name."""
    if resolve not in _RESOLVERS:
        _RESOLVERS.append(resolve)


def get_backbone(name: str, kind: str) -> Backbone:
    _load_tables()
    backbone = BACKBONES.get(name)
    for resolve in _RESOLVERS:
        if backbone is not None:
            break
        backbone = resolve(name)
    if backbone is None or backbone.kind != kind:
        known = sorted(n for n, b in BACKBONES.items() if b.kind == kind)
        extra = " or timm:<architecture>[.<tag>]" if kind == "frames" else ""
        raise ValueError(f"unknown {kind} backbone {name!r}: choose one of {known}{extra}")
    return backbone


def list_backbones(kind: str | None = None) -> list[Backbone]:
    _load_tables()
    return [b for b in BACKBONES.values() if kind is None or b.kind == kind]


def _load_tables() -> None:
    from cinefeat.extract import timm_backbones, torchvision_backbones  # noqa: F401  (register)


def read_state(backbone: Backbone, weights: str) -> tuple[dict[str, Any], Any, str]:
    """(state dict for `backbone.build()`, file path, sha256) of the weights entry `weights`.

    A training checkpoint (Places365's `{'epoch', 'arch', 'state_dict', 'best_prec1'}`) is
    unwrapped at `state_key`; a plain state dict (a fine-tune saved with `torch.save(
    model.state_dict())`) is used as it is. Mismatched keys are named by `load_state`.
    """
    from cinefeat.extract.nets.runtime import load_torch_checkpoint

    path = pretrained.fetch(weights)
    sha256 = pretrained.weights_sha256(weights)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state: Any = load_file(str(path))
    else:
        state = load_torch_checkpoint(path)
    if backbone.state_key is not None and isinstance(state, dict) and backbone.state_key in state:
        state = state[backbone.state_key]
    if backbone.strip_prefix:
        state = {k.removeprefix(backbone.strip_prefix): v for k, v in state.items()}
    return state, path, sha256


class BackboneExtractor(PretrainedExtractor):
    """Runs one `Backbone` on frames or clips. Subclasses set `name`, `kind` and a config with
    `model`, `sampler`, `weights` (a local fine-tune: `cinefeat models add`) and, for clips,
    `frames_per_clip` and `fps`."""

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.backbone = get_backbone(self.config.model, self.kind)
        self.mean, self.std = self.backbone.input.mean, self.backbone.input.std

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.backbone.dim

    @property
    def default_weights(self) -> str:
        return self.backbone.weights

    @property
    def description(self) -> str:
        return self.backbone.description

    @property
    def layer(self) -> str:
        return self.backbone.layer

    def request(self) -> FrameRequest | ClipRequest:  # type: ignore[override]
        spec, c = self.backbone.input, self.config
        if self.kind == "frames":
            return FrameRequest(sampler=c.sampler, short_side=spec.resize)
        return ClipRequest(
            sampler=c.sampler,
            frames_per_clip=self.frames_per_clip,
            fps=c.fps,
            short_side=spec.resize,
        )

    @property
    def frames_per_clip(self) -> int:
        return int(self.config.frames_per_clip or self.backbone.input.frames or 16)

    def build(self) -> Any:
        from cinefeat.extract.nets.runtime import load_state

        state, path, self._sha256 = read_state(self.backbone, self.weights)
        model = self.backbone.build()
        try:
            load_state(model, state, path, self.backbone.drop_prefixes)
        except RuntimeError as error:  # a tensor of another shape: another architecture
            raise LoadError(
                f"{self.weights} does not fit backbone {self.backbone.name}: {error}"
            ) from None
        return model

    def model_info(self) -> dict[str, Any]:
        spec = self.backbone.input
        return {
            **super().model_info(),
            "backbone": self.backbone.name,
            "input": {
                "resize_short_side": spec.resize,
                "centre_crop": spec.crop,
                "mean": list(spec.mean),
                "std": list(spec.std),
            },
        }

    def prepare(self, item: np.ndarray) -> np.ndarray:
        from cinefeat.extract.nets.runtime import square_crop

        cropped = square_crop(item, self.backbone.input.crop, shrink=False)
        return cropped if self.kind == "frames" else pad_clip(cropped, self.frames_per_clip)

    def forward(self, batch: np.ndarray) -> Any:
        try:
            return super().forward(batch)
        except NotImplementedError as error:  # e.g. S3D's avg_pool3d has no CPU bf16 kernel
            if not self.fp16:
                raise
            log.warning("%s: %s in half precision; running in float32", self.name, error)
            self.model, self.fp16 = self.model.float(), False
            return super().forward(batch)


def pad_clip(clip: np.ndarray, frames: int) -> np.ndarray:
    """First `frames` frames; a shorter clip is extended by repeating its last frame (a still
    tail adds no false motion, zeros would add a cut), so a batch has one shape."""
    if len(clip) >= frames:
        return clip[:frames]
    tail = np.repeat(clip[-1:], frames - len(clip), axis=0)
    return np.concatenate([clip, tail])
