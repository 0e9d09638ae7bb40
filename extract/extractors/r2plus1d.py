"""`r2plus1d`: R(2+1)D-18 (Kinetics-400, torchvision) on each clip, 512-d.

Why a feature of its own rather than only `video.model=r2plus1d_18`: it is the motion expert of
MMX-Trailer-20 (Fish et al.) and one of DIViTA's 3-D backbones, and a run that stores it next to
`s3d` or `swin3d` needs one feature name per backbone (one `video` feature holds one model).
Everything else is the `video` extractor: weights table entry `torchvision-r2plus1d_18`, 16 frames
at 15 fps by default, short side 128, centre crop 112 (docs/extractors/r2plus1d.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cinefeat.extract.base import register_extractor
from cinefeat.extract.extractors.video import VideoConfig, VideoExtractor


@dataclass
class R2plus1dConfig(VideoConfig):
    model: str = "r2plus1d_18"


@register_extractor
class R2plus1dExtractor(VideoExtractor):
    name = "r2plus1d"
    config_class = R2plus1dConfig
    config: R2plus1dConfig
    family = ("r2plus1d_18",)
