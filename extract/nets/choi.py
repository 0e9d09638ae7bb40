"""Choi, Fazekas & Sandler (ISMIR 2016) music auto-taggers, ported from their Keras 1.x weights.

Why a port: the "Musicnet" trailer feature (Sulun et al.) is the penultimate layer of these taggers,
and the only published weights are Keras 1.x files. The layer sizes follow the shapes stored in the
files (see `$CINEFEAT_SHARED/weights/choi2016-music-tagger`, docs/extractors/musicnet.md), not the
authors' model code, which disagrees with them.

Both models take a log-power mel spectrogram (B, 1, 96 mels, 1366 frames) in dB and return
`(feature, tag_probabilities)`: the CNN's 256-d flattened last conv block and the CRNN's 32-d last
GRU state, and the 50 sigmoid tag probabilities.

Keras-1 BatchNormalization at inference is an affine map per normalised index (`KerasAffine`):
the input BN (`bn_0_freq`) normalises per *time frame* (1366 or 1440 parameters), the others per
channel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cinefeat.extract import keras_h5

N_MELS = 96
N_FRAMES = 1366
CRNN_PADDED_FRAMES = 1440  # ZeroPadding2D((0, 37)) before bn_0_freq

TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip

CNN_CHANNELS = (32, 128, 128, 192, 256)
CNN_POOLS = ((2, 4), (2, 4), (2, 4), (3, 5), (4, 4))
CRNN_CHANNELS = (64, 128, 128, 128)
CRNN_POOLS = ((2, 2), (3, 3), (4, 4), (4, 4))
GRU_UNITS = 32


class KerasAffine(nn.Module):
    """Inference-time Keras BatchNormalization, `x * scale + shift` along one axis of (B,C,F,T)."""

    def __init__(self, size: int, axis: int) -> None:
        super().__init__()
        self.axis = axis
        self.register_buffer("scale", torch.ones(size))
        self.register_buffer("shift", torch.zeros(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.ndim
        shape[self.axis] = -1
        return x * self.scale.view(shape) + self.shift.view(shape)


class ConvBlock(nn.Module):
    """conv 3x3 same -> BN (per channel) -> ELU -> max-pool (kernel = stride, floor)."""

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = KerasAffine(out_channels, axis=1)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.elu(self.bn(self.conv(x))), self.pool)


class KerasGRU(nn.Module):
    """Keras 1 GRU (hard-sigmoid gates, reset applied before `U_h`), zero initial state."""

    def __init__(self, input_size: int, units: int) -> None:
        super().__init__()
        self.units = units
        self.W = nn.Parameter(torch.zeros(input_size, 3 * units))  # gates z, r, h side by side
        self.U = nn.Parameter(torch.zeros(3, units, units))
        self.b = nn.Parameter(torch.zeros(3 * units))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in) -> (B, T, units), every state."""
        n = self.units
        projected = x @ self.W + self.b
        state = x.new_zeros(x.shape[0], n)
        states = []
        for step in range(x.shape[1]):
            xz, xr, xh = projected[:, step].split(n, dim=1)
            z = hard_sigmoid(xz + state @ self.U[0])
            r = hard_sigmoid(xr + state @ self.U[1])
            candidate = torch.tanh(xh + (r * state) @ self.U[2])
            state = z * state + (1 - z) * candidate
            states.append(state)
        return torch.stack(states, dim=1)


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras' hard_sigmoid: clip(0.2 x + 0.5, 0, 1) (not torch's x/6 + 1/2)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class MusicTaggerCNN(nn.Module):
    """Five conv blocks over the whole 96x1366 mel spectrogram -> 256-d -> 50 tags."""

    feature_dim = CNN_CHANNELS[-1]

    def __init__(self) -> None:
        super().__init__()
        self.bn_0_freq = KerasAffine(N_FRAMES, axis=3)
        channels = (1, *CNN_CHANNELS)
        self.blocks = nn.ModuleList(
            ConvBlock(channels[i], channels[i + 1], pool) for i, pool in enumerate(CNN_POOLS)
        )
        self.output = nn.Linear(CNN_CHANNELS[-1], len(TAGS))

    def forward(self, melgram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.bn_0_freq(_check_input(melgram))
        for block in self.blocks:
            x = block(x)
        feature = x.flatten(1)  # (B, 256, 1, 1) -> (B, 256)
        return feature, torch.sigmoid(self.output(feature))


class MusicTaggerCRNN(nn.Module):
    """Four conv blocks (frequency collapsed to 1) -> two 32-unit GRUs over 15 steps -> 50 tags."""

    feature_dim = GRU_UNITS

    def __init__(self) -> None:
        super().__init__()
        self.bn_0_freq = KerasAffine(CRNN_PADDED_FRAMES, axis=3)
        channels = (1, *CRNN_CHANNELS)
        self.blocks = nn.ModuleList(
            ConvBlock(channels[i], channels[i + 1], pool) for i, pool in enumerate(CRNN_POOLS)
        )
        self.gru1 = KerasGRU(CRNN_CHANNELS[-1], GRU_UNITS)
        self.gru2 = KerasGRU(GRU_UNITS, GRU_UNITS)
        self.output = nn.Linear(GRU_UNITS, len(TAGS))

    def forward(self, melgram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = (CRNN_PADDED_FRAMES - N_FRAMES) // 2
        x = self.bn_0_freq(F.pad(_check_input(melgram), (pad, pad)))
        for block in self.blocks:
            x = block(x)
        sequence = x.flatten(2).transpose(1, 2)  # (B, 128, 1, 15) -> (B, 15 steps, 128)
        feature = self.gru2(self.gru1(sequence))[:, -1]
        return feature, torch.sigmoid(self.output(feature))


def _check_input(melgram: torch.Tensor) -> torch.Tensor:
    if melgram.ndim != 4 or tuple(melgram.shape[1:]) != (1, N_MELS, N_FRAMES):
        raise ValueError(
            f"Choi taggers take (batch, 1, {N_MELS}, {N_FRAMES}) log-mel input, got "
            f"{tuple(melgram.shape)}; use cinefeat.extract.audio_features.choi_melgram"
        )
    return melgram


# Which backend's BatchNormalization arithmetic each published file needs: decided by the golden
# checks in tests/extract/models/test_choi_golden.py (see docs/extractors/musicnet.md).
CNN_STD_IS_VARIANCE = False
CRNN_STD_IS_VARIANCE = True


def load_cnn(path: str | Path, std_is_variance: bool = CNN_STD_IS_VARIANCE) -> MusicTaggerCNN:
    """MusicTaggerCNN with the weights of a Keras 1.x `.h5` file (`_tensorflow` kernel form)."""
    layers = keras_h5.read_keras1_h5(path)
    model = MusicTaggerCNN()
    _set_affine(model.bn_0_freq, layers, "bn_0_freq", std_is_variance)
    for index, block in enumerate(model.blocks, start=1):
        _set_block(block, layers, index, std_is_variance)
    _set_linear(model.output, layers, "output")
    return model.eval()


def load_crnn(path: str | Path, std_is_variance: bool = CRNN_STD_IS_VARIANCE) -> MusicTaggerCRNN:
    """MusicTaggerCRNN with the weights of a Keras 1.x `.h5` file (`_tensorflow` kernel form)."""
    layers = keras_h5.read_keras1_h5(path)
    model = MusicTaggerCRNN()
    _set_affine(model.bn_0_freq, layers, "bn_0_freq", std_is_variance)
    for index, block in enumerate(model.blocks, start=1):
        _set_block(block, layers, index, std_is_variance)
    for name in ("gru1", "gru2"):
        _set_gru(getattr(model, name), _layer(layers, name))
    _set_linear(model.output, layers, "output")
    return model.eval()


def _layer(layers: dict[str, keras_h5.KerasLayer], name: str) -> keras_h5.KerasLayer:
    if name not in layers:
        raise keras_h5.KerasFileError(
            f"layer {name!r} missing (file has {sorted(layers)}): not the published Choi 2016 file"
        )
    return layers[name]


def _copy(target: torch.Tensor, value: np.ndarray, what: str) -> None:
    if tuple(target.shape) != value.shape:
        raise keras_h5.KerasFileError(
            f"{what}: file shape {value.shape} != model shape {tuple(target.shape)}: not the "
            f"published Choi 2016 file for this model"
        )
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _set_affine(module: KerasAffine, layers: dict, name: str, std_is_variance: bool) -> None:
    scale, shift = keras_h5.batchnorm_affine(_layer(layers, name), std_is_variance)
    _copy(module.scale, scale, f"{name} scale")
    _copy(module.shift, shift, f"{name} shift")


def _set_block(block: ConvBlock, layers: dict, index: int, std_is_variance: bool) -> None:
    weight, bias = keras_h5.conv2d_kernel(_layer(layers, f"conv{index}"))
    _copy(block.conv.weight, weight, f"conv{index} W")
    _copy(block.conv.bias, bias, f"conv{index} b")
    _set_affine(block.bn, layers, f"bn{index}", std_is_variance)


def _set_linear(module: nn.Linear, layers: dict, name: str) -> None:
    weight, bias = keras_h5.dense(_layer(layers, name))
    _copy(module.weight, weight, f"{name} W")
    _copy(module.bias, bias, f"{name} b")


def _set_gru(module: KerasGRU, layer: keras_h5.KerasLayer) -> None:
    gates = keras_h5.gru_gates(layer)
    order = keras_h5.GRU_GATES
    _copy(module.W, np.concatenate([gates[f"W_{g}"] for g in order], axis=1), f"{layer.name} W")
    _copy(module.U, np.stack([gates[f"U_{g}"] for g in order]), f"{layer.name} U")
    _copy(module.b, np.concatenate([gates[f"b_{g}"] for g in order]), f"{layer.name} b")
