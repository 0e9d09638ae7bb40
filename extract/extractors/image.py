"""`image`: the pooled embedding of an ImageNet, Places365 or timm image network for each frame.

Why: the 2-D backbones of the papers are ImageNet classifiers run on one frame per shot or clip
(DIViTA / Trailers12k: ShuffleNetV2, ResNet, Swin-2D on each clip's representative frame;
MMX-Trailer-20: a Places365 ResNet as the scene expert, SENet-154 as the object expert). One
extractor runs them all: `--option image.model=resnet50`, `places365_resnet50`,
`timm:senet154`, `timm:convnext_base.fb_in22k_ft_in1k`, ... (`cinefeat models list` and
docs/extractors/image.md list the table, with dims and licences). Frames come from any frame
sampler (`sampler=scene-middle`, the default, gives the middle frame of each shot), decoded at the
backbone's resize size and centre-cropped to its crop (`cinefeat.extract.backbones`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cinefeat.extract import timm_backbones, torchvision_backbones  # noqa: F401  (the tables)
from cinefeat.extract.backbones import BackboneExtractor
from cinefeat.extract.base import ExtractorConfig, register_extractor


@dataclass
class ImageConfig(ExtractorConfig):
    model: str = "resnet50"
    sampler: str = "scene-middle"
    weights: str | None = None  # a local fine-tune registered with `cinefeat models add`


@register_extractor
class ImageExtractor(BackboneExtractor):
    name = "image"
    kind = "frames"
    config_class = ImageConfig
    config: ImageConfig
