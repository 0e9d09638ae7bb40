"""`s3d`: S3D (Kinetics-400, torchvision) on each clip, 1024-d.

Why: video_features' S3D; a separable 3-D network cheaper than I3D at the same input, so a second
motion feature next to `r2plus1d` (one feature name per backbone lets a run store both). It is the
`video` extractor with `model=s3d`: 32 frames at 15 fps by default (torchvision evaluates on 128:
`s3d.frames_per_clip=128`), short side 256, centre crop 224 (docs/extractors/s3d.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cinefeat.extract.base import register_extractor
from cinefeat.extract.extractors.video import VideoConfig, VideoExtractor


@dataclass
class S3dConfig(VideoConfig):
    model: str = "s3d"


@register_extractor
class S3dExtractor(VideoExtractor):
    name = "s3d"
    config_class = S3dConfig
    config: S3dConfig
    family = ("s3d",)
