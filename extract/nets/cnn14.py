"""PANNs Cnn14 (Kong et al., 2020), our own module with the published checkpoint's key names.

Why not `panns_inference`: importing it runs `wget` (labels csv) and its loader unpickles the whole
checkpoint. This module matches the state-dict keys of `Cnn14_mAP=0.431.pth` (`bn0`,
`conv_block1..6.{conv1,conv2,bn1,bn2}`, `fc1`, `fc_audioset`); the checkpoint's front-end tensors
(`spectrogram_extractor.*`, `logmel_extractor.*`: a DFT basis and librosa mel filters) are not
loaded because `cinefeat.extract.audio_features.panns_logmel` computes the same log-mel.

Input: (B, 1, frames, 64) log-mel dB. Output: the embedding (ReLU(fc1) of max+mean pooled conv
features) and the 527 AudioSet clip-wise sigmoid probabilities.

`Cnn14Emb128` is PANNs' `Cnn14_emb128` (file `Cnn14_emb128_mAP=0.412.pth`, same Zenodo record): in
the authors' `pytorch/models.py` (qiuqiangkong/audioset_tagging_cnn) it differs from `Cnn14` only
in `fc1` (2048 -> 128) and `fc_audioset` (128 -> 527), the same key names and the same forward, so
it is the same module with a 128-d bottleneck. Its 128-d `fc1` output is the feature Sulun et al.
use ("prior to the final classification layer").
"""

from __future__ import annotations

from collections.abc import Mapping

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
    """`embedding_dim` is the width of `fc1`: 2048 in Cnn14, 128/512/32 in the `_emb*` variants."""

    def __init__(self, n_classes: int = N_CLASSES, embedding_dim: int = CHANNELS[-1]) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.bn0 = nn.BatchNorm2d(N_MELS)
        ins = (1, *CHANNELS[:-1])
        for index, (cin, cout) in enumerate(zip(ins, CHANNELS, strict=True), start=1):
            self.add_module(f"conv_block{index}", Cnn14Block(cin, cout))
        self.fc1 = nn.Linear(CHANNELS[-1], embedding_dim)
        self.fc_audioset = nn.Linear(embedding_dim, n_classes)

    def forward(self, log_mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, frames, 64) -> (embedding (B, embedding_dim), probabilities (B, 527))."""
        if log_mel.ndim != 4 or log_mel.shape[1] != 1 or log_mel.shape[3] != N_MELS:
            raise ValueError(
                f"{type(self).__name__} takes (batch, 1, frames, {N_MELS}) log-mel, got "
                f"{tuple(log_mel.shape)}; use cinefeat.extract.audio_features.panns_logmel"
            )
        x = self.bn0(log_mel.transpose(1, 3)).transpose(1, 3)  # BN per mel band
        for index in range(1, len(CHANNELS) + 1):
            pool = (2, 2) if index < len(CHANNELS) else (1, 1)
            x = getattr(self, f"conv_block{index}")(x, pool)
        x = x.mean(dim=3)  # over mel
        x = x.amax(dim=2) + x.mean(dim=2)  # over time
        embedding = F.relu(self.fc1(x))
        return embedding, torch.sigmoid(self.fc_audioset(embedding))


class Cnn14Emb128(Cnn14):
    """PANNs `Cnn14_emb128`: Cnn14 with a 128-d `fc1` (the paper's audio-tagging feature)."""

    def __init__(self, n_classes: int = N_CLASSES) -> None:
        super().__init__(n_classes, embedding_dim=128)


def fc1_width(state: Mapping[str, torch.Tensor]) -> int | None:
    """Width of a checkpoint's `fc1` (2048 for Cnn14, 128 for Cnn14_emb128), None if absent.

    Why: loading a Cnn14 file into Cnn14_emb128 (or back) fails on a tensor size deep inside
    torch; reading the width first lets the loader say which model the file is.
    """
    weight = state.get("fc1.weight")
    return int(weight.shape[0]) if isinstance(weight, torch.Tensor) and weight.ndim == 2 else None
