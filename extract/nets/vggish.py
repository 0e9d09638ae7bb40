"""VGGish (Hershey et al. 2017), matching the state-dict keys of the torchvggish port's weights.

Why own module: torchvggish fetches weights through `torch.hub` at construction and unpickles the
PCA file fully. Keys here are those of `vggish-10086976.pth` (`features.{0,3,6,8,11,13}` conv
layers, `embeddings.{0,2,4}` linear layers); the PCA file `vggish_pca_params-970ea276.pth` holds
`pca_eigen_vectors` (128, 128) and `pca_means` (128,) as numpy arrays.

Input: (B, 1, 96 frames, 64 mels) log-mel examples (`audio_features.vggish_logmel`). Output: the
128-d embedding as the port computes it (ReLU after the last layer, as in torchvggish).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

LAYOUT = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")
EMBEDDING_DIM = 128
QUANTIZE_RANGE = (-2.0, 2.0)


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 1
    for item in LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU()]
            channels = int(item)
    return nn.Sequential(*layers)


class VGGish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = _features()
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096),
            nn.ReLU(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, EMBEDDING_DIM),
            nn.ReLU(),
        )

    def forward(self, examples: torch.Tensor) -> torch.Tensor:
        if examples.ndim != 4 or tuple(examples.shape[1:]) != (1, 96, 64):
            raise ValueError(
                f"VGGish takes (batch, 1, 96, 64) log-mel, got {tuple(examples.shape)}"
            )
        x = self.features(examples)  # (B, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # channels last, as the TensorFlow original flattens
        return self.embeddings(x)


class VGGishPostprocess(nn.Module):
    """PCA (with whitening) + clip to [-2, 2] + 8-bit quantisation, as AudioSet's released
    embeddings; the output holds integers 0..255 (as floats)."""

    def __init__(self, eigen_vectors: np.ndarray, means: np.ndarray) -> None:
        super().__init__()
        eigen = torch.as_tensor(np.asarray(eigen_vectors), dtype=torch.float32)
        mean = torch.as_tensor(np.asarray(means), dtype=torch.float32).reshape(-1)
        if eigen.shape != (EMBEDDING_DIM, EMBEDDING_DIM) or mean.shape != (EMBEDDING_DIM,):
            raise ValueError(
                f"VGGish PCA parameters must be (128, 128) and (128,), got {tuple(eigen.shape)} "
                f"and {tuple(mean.shape)}: not vggish_pca_params-970ea276.pth"
            )
        self.register_buffer("eigen_vectors", eigen)
        self.register_buffer("means", mean)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        projected = (embedding.float() - self.means) @ self.eigen_vectors.T
        low, high = QUANTIZE_RANGE
        clipped = projected.clamp(low, high)
        return torch.round((clipped - low) * (255.0 / (high - low)))
