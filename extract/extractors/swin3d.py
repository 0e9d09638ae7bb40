"""`swin3d`: Video Swin Transformer (Kinetics-400, torchvision) on each clip; `swin3d_t` (768-d)
by default, `swin3d.model=swin3d_s` (768-d) or `swin3d_b` (1024-d).

Why: DIViTA / Trailers12k's Swin-3D, its strongest clip backbone, on shot clips (DIViTA uses 24
frames: `swin3d.frames_per_clip=24`). It is the `video` extractor restricted to the Swin-3D
family: 32 frames at 15 fps by default, short side 256, centre crop 224, ImageNet mean/std
(docs/extractors/swin3d.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cinefeat.extract.base import register_extractor
from cinefeat.extract.extractors.video import VideoConfig, VideoExtractor


@dataclass
class Swin3dConfig(VideoConfig):
    model: str = "swin3d_t"


@register_extractor
class Swin3dExtractor(VideoExtractor):
    name = "swin3d"
    config_class = Swin3dConfig
    config: Swin3dConfig
    family = ("swin3d_t", "swin3d_s", "swin3d_b")
