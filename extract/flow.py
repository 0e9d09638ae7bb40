"""Optical flow on decoded clips with RAFT (torchvision), for the I3D flow stream.

Why RAFT on the frames already decoded: the two-stream I3D of Carreira & Zisserman (and Fish et
al.'s motion expert) reads optical flow; the original used TV-L1 from a separate pass over the
video, video_features computes RAFT (or PWC) on the frames it samples. Computing it here, on the
clip the RGB stream sees (short side 256, centre crop 224), needs no second decode and gives the
flow stream exactly the frames and crop of the RGB stream.

Flow between frames t and t+1 for t < T-1; the last flow is repeated so a clip of T frames gives
T flow fields (the shape I3D takes). RAFT wants sides divisible by 8: the 224 crop is. Weights are
torchvision's (`Raft_Small_Weights.C_T_V2`, `Raft_Large_Weights.C_T_SKHT_V2`), preprocessing
theirs (`OpticalFlow()`: [0, 1] -> [-1, 1]); `num_flow_updates` 12, torchvision's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract import pretrained

RAFT = {
    "raft_small": "https://download.pytorch.org/models/raft_small_C_T_V2-01064c6d.pth",
    "raft_large": "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth",
}
for _name, _url in RAFT.items():
    pretrained.register_weights(
        pretrained.PretrainedWeights(
            name=f"torchvision-{_name}",
            files=(pretrained.hub_file(_url),),
            format="pytorch-state-dict",
            licence="BSD-3-Clause (torchvision; RAFT, Teed & Deng 2020)",
            description=f"RAFT optical flow ({_name.split('_')[1]}), FlyingChairs + Things"
            + (" + Sintel/KITTI/HD1K" if _name == "raft_large" else ""),
            source=f"torchvision.models.optical_flow.{_name}",
            preprocessing={"range": "[-1, 1]", "multiple_of": 8, "num_flow_updates": 12},
        )
    )


def build_raft(name: str) -> Any:
    from torchvision.models import optical_flow

    return getattr(optical_flow, name)(weights=None)


@dataclass
class ClipFlow:
    """RAFT flow of (B, T, H, W, 3) uint8 clips -> (B, T, H, W, 2) float32 pixels per frame."""

    model_name: str = "raft_small"
    weights: str | None = None
    num_flow_updates: int = 12
    pairs_per_batch: int = 16

    def __post_init__(self) -> None:
        if self.model_name not in RAFT:
            raise ValueError(f"flow model must be one of {sorted(RAFT)}, got {self.model_name!r}")
        self.model: Any = None
        self.sha256: str | None = None
        self.device = "cpu"

    @property
    def weights_name(self) -> str:
        return self.weights or f"torchvision-{self.model_name}"

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        """RAFT stays in float32: its correlation lookups lose too much in half precision."""
        from cinefeat.extract.nets.runtime import load_state, load_torch_checkpoint, place

        path = pretrained.fetch(self.weights_name)
        self.sha256 = pretrained.weights_sha256(self.weights_name)
        model = build_raft(self.model_name)
        load_state(model, load_torch_checkpoint(path), path)
        self.model, _ = place(model, device, False)
        self.device = device

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        import torch

        if self.model is None:
            raise RuntimeError("ClipFlow.load() must be called first")
        batch, frames, height, width, _ = clips.shape
        if height % 8 or width % 8:
            raise ValueError(f"RAFT needs sides divisible by 8, got {height}x{width}")
        out = np.zeros((batch, frames, height, width, 2), dtype=np.float32)
        if frames < 2:
            return out  # one frame: no motion
        x = torch.from_numpy(clips).to(self.device).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0
        first = x[:, :-1].reshape(-1, 3, height, width)
        second = x[:, 1:].reshape(-1, 3, height, width)
        flows = []
        with torch.inference_mode():
            for start in range(0, len(first), self.pairs_per_batch):
                end = start + self.pairs_per_batch
                predictions = self.model(
                    first[start:end], second[start:end], num_flow_updates=self.num_flow_updates
                )
                flows.append(predictions[-1].float().cpu())
        flow = torch.cat(flows).reshape(batch, frames - 1, 2, height, width).permute(0, 1, 3, 4, 2)
        out[:, :-1] = flow.numpy()
        out[:, -1] = out[:, -2]  # T flows for T frames: the last is repeated
        return out


def i3d_flow_input(flow: np.ndarray) -> np.ndarray:
    """Flow in pixels -> the I3D flow stream's input: truncated to [-20, 20], scaled to [-1, 1]
    (deepmind/kinetics-i3d README, "Sample data and preprocessing")."""
    return np.clip(flow, -20.0, 20.0) / 20.0


__all__ = ["RAFT", "ClipFlow", "build_raft", "i3d_flow_input"]
