"""`clip`: the CLIP image embedding of each sampled frame (open_clip), the reference extractor.

Why CLIP: it is the strongest generic visual feature for trailer genre (semantic, not low-level), it
is what most recent genre work builds on, and its text tower allows zero-shot heads. Only the image
tower runs (`encode_image`), 512-d for ViT-B-32.

Weights: the default `ViT-B-32` / `openai` is registered as `clip-vit-b-32-openai`, the safetensors
file that open_clip itself prefers (Hugging Face `timm/vit_base_patch32_clip_224.openai`), loaded
with safetensors (no unpickling). Its publisher gives no sha256 next to that file, so the first
download records it (trust on first use, see `pretrained.py`). Any other open_clip model/tag is
registered on first use from open_clip's own pretrained table (`clip-<model>-<tag>`).

Preprocessing follows the weights' table entry (mean/std); frames arrive with their short side at
`image_size` (the decoder resizes), and are centre-cropped to a square here, as open_clip does.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import ExtractorConfig, FrameRequest, LoadError, register_extractor
from cinefeat.extract.pretrained_extractor import PretrainedExtractor

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
HF_RESOLVE = "https://huggingface.co/{repo}/resolve/main/{filename}"

DEFAULT_WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="clip-vit-b-32-openai",
        files=(
            pretrained.RemoteFile(
                "open_clip_model.safetensors",
                HF_RESOLVE.format(
                    repo="timm/vit_base_patch32_clip_224.openai",
                    filename="open_clip_model.safetensors",
                ),
                sha256=None,
            ),
        ),
        format="open_clip-safetensors",
        licence="MIT (OpenAI CLIP)",
        description="CLIP ViT-B/32 trained by OpenAI (Radford et al. 2021), open_clip layout",
        source="open_clip pretrained.py: ViT-B-32 / openai (hf_hub timm/vit_base_patch32_clip_224"
        ".openai)",
        preprocessing={
            "model": "ViT-B-32",
            "tag": "openai",
            "quick_gelu": True,
            "mean": OPENAI_MEAN,
            "std": OPENAI_STD,
            "image_size": 224,
            "interpolation": "bicubic",
            "resize_mode": "shortest",
        },
    )
)


class ClipConfigError(LoadError, ValueError):
    """The requested open_clip model/tag is not known (message lists how to find valid ones)."""


@dataclass
class ClipConfig(ExtractorConfig):
    model: str = "ViT-B-32"
    pretrained: str = "openai"
    weights: str | None = None  # a registry name (e.g. a local fine-tune added with `models add`)
    sampler: str = "scene-middle"
    normalize: bool = True
    image_size: int = 224


def weights_name(model: str, tag: str) -> str:
    return f"clip-{model}-{tag}".lower().replace("/", "-")


def register_open_clip_weights(model: str, tag: str) -> pretrained.PretrainedWeights:
    """Registry entry for any open_clip (model, tag), from open_clip's pretrained table."""
    name = weights_name(model, tag)
    if name == DEFAULT_WEIGHTS.name:
        return DEFAULT_WEIGHTS
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, tag)
    if not cfg:
        raise ClipConfigError(
            f"open_clip has no pretrained weights {model!r}/{tag!r}; list them with "
            f"`python -c 'import open_clip; print(open_clip.list_pretrained())'`"
        )
    hub = cfg.get("hf_hub", "")
    if hub:
        repo = hub.rstrip("/").split("/")
        filename = "open_clip_model.safetensors" if hub.endswith("/") else repo.pop()
        url = HF_RESOLVE.format(repo="/".join(repo[:2]), filename=filename)
        fmt = "open_clip-safetensors" if filename.endswith(".safetensors") else "torch-state-dict"
    else:
        url = cfg["url"]
        filename = url.rsplit("/", 1)[-1]
        fmt = "torch-state-dict"
    size = cfg.get("size") or open_clip.get_model_config(model)["vision_cfg"].get("image_size", 224)
    entry = pretrained.PretrainedWeights(
        name=name,
        files=(pretrained.RemoteFile(filename, url, sha256=None),),
        format=fmt,
        licence="see open_clip model card",
        description=f"open_clip {model} / {tag}",
        source="open_clip pretrained.py",
        preprocessing={
            "model": model,
            "tag": tag,
            "quick_gelu": bool(cfg.get("quick_gelu")),
            "mean": tuple(cfg.get("mean", OPENAI_MEAN)),
            "std": tuple(cfg.get("std", OPENAI_STD)),
            "image_size": size if isinstance(size, int) else size[0],
        },
    )
    return pretrained.register_weights(entry)


def _resolve_open_clip_name(name: str) -> pretrained.PretrainedWeights | None:
    """`clip-<model>-<tag>` for any open_clip pretrained pair (`clip-vit-l-14-openai`), so every
    CLIP the extractor can select is downloadable ahead of time by name."""
    if not name.startswith("clip-"):
        return None
    try:
        import open_clip
    except ImportError:
        return None
    for model, tag in open_clip.list_pretrained():
        if weights_name(model, tag) == name:
            return register_open_clip_weights(model, tag)
    return None


pretrained.register_resolver(_resolve_open_clip_name)


@register_extractor
class ClipExtractor(PretrainedExtractor):
    name = "clip"
    kind = "frames"
    config_class = ClipConfig
    config: ClipConfig
    mean, std = OPENAI_MEAN, OPENAI_STD

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._dim: int | None = 512 if self.config.model == "ViT-B-32" else None

    @property
    def default_weights(self) -> str:
        return weights_name(self.config.model, self.config.pretrained)

    @property
    def description(self) -> str:
        return f"open_clip:{self.config.model}/{self.config.pretrained}"

    @property
    def layer(self) -> str:
        return "image embedding (encode_image)"

    @property
    def dim(self) -> int:
        if self._dim is None:
            import open_clip

            cfg = open_clip.get_model_config(self.config.model)
            if cfg is None:
                raise ClipConfigError(
                    f"open_clip has no model {self.config.model!r}; see `open_clip.list_models()`"
                )
            self._dim = int(cfg["embed_dim"])
        return self._dim

    def request(self) -> FrameRequest:
        return FrameRequest(sampler=self.config.sampler, short_side=self.config.image_size)

    def build(self) -> Any:
        """open_clip's architecture, its image tower loaded (the text tower is not used)."""
        import open_clip

        if self.config.weights is None:
            register_open_clip_weights(self.config.model, self.config.pretrained)
        prep = pretrained.get_weights(self.weights).preprocessing
        path, _ = self.fetch_weights()
        with _quiet_root_warnings():  # open_clip warns "initialized randomly": we load next
            model = open_clip.create_model(
                prep.get("model", self.config.model),
                pretrained=None,
                force_quick_gelu=bool(prep.get("quick_gelu", False)),
            )
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            from cinefeat.extract.nets.runtime import load_torch_checkpoint

            state = load_torch_checkpoint(path, allow_numpy=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
        missing, _ = model.load_state_dict(state, strict=False)
        visual_missing = [k for k in missing if k.startswith("visual.")]
        if visual_missing:
            raise pretrained.WeightsError(
                f"{path} lacks image-tower tensors {visual_missing[:3]}...: it is not a "
                f"{self.config.model} checkpoint; check `--option clip.model=...`"
            )
        self.mean = tuple(prep.get("mean", OPENAI_MEAN))
        self.std = tuple(prep.get("std", OPENAI_STD))
        self._dim = int(getattr(model.visual, "output_dim", None) or self.dim)
        return model.visual

    def model_info(self) -> dict[str, Any]:
        return {**super().model_info(), "l2_normalized": self.config.normalize}

    def prepare(self, item: np.ndarray) -> np.ndarray:
        return center_crop(item, self.config.image_size)

    def forward(self, batch: np.ndarray) -> Any:
        import torch

        out = super().forward(batch).float()
        return torch.nn.functional.normalize(out, dim=-1) if self.config.normalize else out


@contextlib.contextmanager
def _quiet_root_warnings() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def center_crop(frame: np.ndarray, size: int) -> np.ndarray:
    """Resize-free square crop: the short side must already be `size` (the decoder resized)."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"clip expects HxWx3 RGB frames, got shape {frame.shape}")
    height, width = frame.shape[:2]
    if min(height, width) != size:
        frame = _resize_short_side(frame, size)
        height, width = frame.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    return frame[top : top + size, left : left + size]


def _resize_short_side(frame: np.ndarray, size: int) -> np.ndarray:
    import cv2

    height, width = frame.shape[:2]
    scale = size / min(height, width)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    return cv2.resize(frame, new, interpolation=cv2.INTER_CUBIC)
