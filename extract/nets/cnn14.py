"""PANNs Cnn14 (Kong et al., 2020), our own module with the published checkpoint's key names.

Why not `panns_inference`: importing it runs `wget` (labels csv) and its loader unpickles the whole
checkpoint. This module matches the state-dict keys of `Cnn14_mAP=0.431.pth` (`bn0`,
`conv_block1..6.{conv1,conv2,bn1,bn2}`, `fc1`, `fc_audioset`); the checkpoint's front-end tensors
(`spectrogram_extractor.*`, `logmel_extractor.*`: a DFT basis and librosa mel filters) are not
loaded because `cinefeat.extract.audio_features.panns_logmel` computes the same log-mel.

Input: (B, 1, frames, 64) log-mel dB. Output: the 2048-d embedding (ReLU(fc1) of max+mean pooled
conv features) and the 527 AudioSet clip-wise sigmoid probabilities.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

CHANNELS = (64, 128, 256, 512, 1024, 2048)
N_MELS = 64
N_CLASSES = 527
FRONT_END_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.")


class Cnn14Block(nn.Module):
    """Two (conv 3x3 without bias -> BN -> ReLU), then average pooling."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool) if pool != (1, 1) else x


class Cnn14(nn.Module):
    embedding_dim = CHANNELS[-1]

    def __init__(self, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.bn0 = nn.BatchNorm2d(N_MELS)
        ins = (1, *CHANNELS[:-1])
        for index, (cin, cout) in enumerate(zip(ins, CHANNELS, strict=True), start=1):
            self.add_module(f"conv_block{index}", Cnn14Block(cin, cout))
        self.fc1 = nn.Linear(CHANNELS[-1], CHANNELS[-1])
        self.fc_audioset = nn.Linear(CHANNELS[-1], n_classes)

    def forward(self, log_mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, frames, 64) -> (embedding (B, 2048), probabilities (B, 527))."""
        if log_mel.ndim != 4 or log_mel.shape[1] != 1 or log_mel.shape[3] != N_MELS:
            raise ValueError(
                f"Cnn14 takes (batch, 1, frames, {N_MELS}) log-mel, got {tuple(log_mel.shape)}; "
                f"use cinefeat.extract.audio_features.panns_logmel"
            )
        x = self.bn0(log_mel.transpose(1, 3)).transpose(1, 3)  # BN per mel band
        for index in range(1, len(CHANNELS) + 1):
            pool = (2, 2) if index < len(CHANNELS) else (1, 1)
            x = getattr(self, f"conv_block{index}")(x, pool)
        x = x.mean(dim=3)  # over mel
        x = x.amax(dim=2) + x.mean(dim=2)  # over time
        embedding = F.relu(self.fc1(x))
        return embedding, torch.sigmoid(self.fc_audioset(embedding))
