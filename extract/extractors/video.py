"""`video`: the pooled embedding of a Kinetics-400 video network for each clip of frames.

Why: motion, camera movement and cutting pace are what single frames miss; the papers' 3-D
backbones see them (DIViTA / Trailers12k: R(2+1)D and Swin-3D on shot clips of 24 frames;
MMX-Trailer-20: R(2+1)D as a motion expert; video_features: R(2+1)D, S3D). `--option
video.model=` picks any of torchvision's Kinetics-400 models: `r2plus1d_18` (default), `r3d_18`,
`mc3_18`, `s3d`, `swin3d_t`, `swin3d_s`, `swin3d_b`, `mvit_v1_b`, `mvit_v2_s`.

Clips: `shot-clips` (the default; `frames_per_clip` consecutive frames per shot) or fixed stacks
with `fps=` (e.g. the 15 fps of the torchvision evaluation). `frames_per_clip` defaults to each
model's published clip length (16 for the ResNet-3D family and MViT, 32 for Swin-3D; 32 for S3D,
which torchvision evaluates on 128-frame clips: set `frames_per_clip=128` for that); a
shorter clip is padded by repeating its last frame (recorded in provenance). MViT's temporal
position embedding takes exactly 16 frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from cinefeat.extract import timm_backbones, torchvision_backbones  # noqa: F401  (the tables)
from cinefeat.extract.backbones import BackboneExtractor
from cinefeat.extract.base import ExtractorConfig, register_extractor


@dataclass
class VideoConfig(ExtractorConfig):
    model: str = "r2plus1d_18"
    sampler: str = "shot-clips"
    frames_per_clip: int | None = None  # default: the model's published clip length
    fps: float | None = None
    weights: str | None = None  # a local fine-tune registered with `cinefeat models add`

    def __post_init__(self) -> None:
        if self.frames_per_clip is not None and self.frames_per_clip < 1:
            raise ValueError(f"video frames_per_clip must be >= 1, got {self.frames_per_clip}")


@register_extractor
class VideoExtractor(BackboneExtractor):
    name = "video"
    kind = "clips"
    config_class = VideoConfig
    config: VideoConfig
    family: ClassVar[tuple[str, ...]] = ()
    """The backbones a named feature (`r2plus1d`, `swin3d`, ...) accepts; empty: any."""

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        if self.family and self.backbone.name not in self.family:
            raise ValueError(
                f"{self.name} runs one of {list(self.family)}, got model "
                f"{self.backbone.name!r}; use `--features video --option "
                f"video.model={self.backbone.name}` for another backbone"
            )
        needed = self.backbone.name.startswith("mvit") and self.frames_per_clip != 16
        if needed:
            raise ValueError(f"{self.backbone.name} takes exactly 16 frames per clip")

    def model_info(self) -> dict[str, Any]:
        return {
            **super().model_info(),
            "short_clips": "padded to frames_per_clip by repeating the last frame",
        }
