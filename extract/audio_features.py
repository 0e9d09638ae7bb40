"""Audio front-ends of the pretrained audio models: resampling, mono, and three mel spectrograms.

Why our own: each published model was trained on one exact spectrogram, and a port is only faithful
if its front-end reproduces that arithmetic. We write them in torch (batched, GPU-capable, always
fp32: mel powers span ~100 dB, which fp16 cannot hold) instead of depending on librosa/torchaudio
versions that have changed their defaults since these models were trained.

- `choi_melgram`: Choi et al. 2016 (`compute_melgram` with librosa 0.4/0.5): 12 kHz, centred STFT
  (reflect pad) with a periodic Hann window, n_fft 512, hop 256, power spectrogram, 96 Slaney mel
  bands with area normalisation, *squared again* (the authors pass `melspectrogram(...)**2` to
  `logamplitude`), `10 log10(max(x, 1e-10))`, clipped to 80 dB below the window's peak.
- `panns_logmel`: PANNs (Kong et al. 2020, torchlibrosa): 32 kHz, n_fft 1024, hop 320, centred
  reflect-padded STFT, power, 64 Slaney mel bands 50..14000 Hz, `10 log10(max(x, 1e-10))`.
- `vggish_logmel`: VGGish (Hershey et al. 2017, `mel_features.py`): 16 kHz, 25 ms frames, 10 ms hop,
  no padding, FFT 512 magnitude, 64 HTK mel bands 125..7500 Hz without normalisation,
  `log(mel + 0.01)`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from torch.nn import functional as F

from cinefeat.store.errors import CinefeatError

MelScale = Literal["slaney", "htk"]


class AudioInputError(CinefeatError, ValueError):
    """Audio of a shape/rate the front-ends cannot use (message says what is expected)."""


def to_mono(audio: np.ndarray, channel_axis: int = 0) -> np.ndarray:
    """(channels, samples) -> (samples,) float32 by averaging channels (as librosa's `mono=True`).

    1-D input is returned as float32. 5.1 is averaged like stereo: every channel counts equally.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise AudioInputError(f"audio must be 1-D or (channels, samples), got shape {audio.shape}")
    return audio.mean(axis=channel_axis).astype(np.float32)


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling (Kaiser-windowed sinc), float32 in and out.

    Why polyphase: exact for any pair of integer rates (8 kHz..96 kHz to 12/16/32 kHz), linear in
    the signal length and anti-aliased as the models' training pipelines were (librosa's default
    resampy `kaiser_best`, whose filter constants `_lowpass` uses). Output length is
    ceil(n * target / source).
    """
    from scipy.signal import resample_poly

    if source_rate <= 0 or target_rate <= 0:
        raise AudioInputError(f"sample rates must be positive, got {source_rate} -> {target_rate}")
    audio = np.asarray(audio, dtype=np.float32)
    if source_rate == target_rate:
        return audio
    gcd = math.gcd(int(source_rate), int(target_rate))
    up, down = int(target_rate) // gcd, int(source_rate) // gcd
    taps = _lowpass(up, down)
    out = resample_poly(audio.astype(np.float64), up, down, axis=-1, window=taps)
    return out.astype(np.float32)


@lru_cache(maxsize=32)
def _lowpass(up: int, down: int) -> np.ndarray:
    """Anti-aliasing filter with resampy's `kaiser_best` constants: 64 zero crossings per side,
    Kaiser beta 14.77, cut-off at 0.9476 of the lower Nyquist frequency."""
    from scipy.signal import firwin

    factor = max(up, down)
    half = RESAMPLE_ZERO_CROSSINGS * factor
    taps = firwin(2 * half + 1, RESAMPLE_ROLLOFF / factor, window=("kaiser", RESAMPLE_BETA))
    return taps  # resample_poly scales a given filter by `up` itself


RESAMPLE_ZERO_CROSSINGS, RESAMPLE_BETA, RESAMPLE_ROLLOFF = (
    64,
    14.769656459379492,
    0.9475937167399596,
)


def hz_to_mel(frequencies: np.ndarray, scale: MelScale) -> np.ndarray:
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if scale == "htk":
        return 1127.0 * np.log1p(frequencies / 700.0)
    linear_step = 200.0 / 3  # Slaney: linear below 1 kHz, logarithmic above
    min_log_hz, log_step = 1000.0, math.log(6.4) / 27.0
    mels = frequencies / linear_step
    log_part = (
        min_log_hz / linear_step + np.log(np.maximum(frequencies, 1e-10) / min_log_hz) / log_step
    )
    return np.where(frequencies >= min_log_hz, log_part, mels)


def mel_to_hz(mels: np.ndarray, scale: MelScale) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    if scale == "htk":
        return 700.0 * np.expm1(mels / 1127.0)
    linear_step = 200.0 / 3
    min_log_hz, log_step = 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / linear_step
    return np.where(
        mels >= min_log_mel,
        min_log_hz * np.exp(log_step * (mels - min_log_mel)),
        linear_step * mels,
    )


@lru_cache(maxsize=16)
def slaney_mel_filters(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular filters, Slaney scale and area normalisation
    (librosa's `filters.mel(htk=False, norm="slaney")`, the default since librosa 0.4)."""
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(
        np.linspace(hz_to_mel(fmin, "slaney"), hz_to_mel(fmax, "slaney"), n_mels + 2), "slaney"
    )
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.T.astype(np.float32)


@lru_cache(maxsize=4)
def htk_mel_filters(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) VGGish filters: triangles in HTK mel, unnormalised, no DC."""
    bin_mels = hz_to_mel(np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1), "htk")
    edges = np.linspace(hz_to_mel(fmin, "htk"), hz_to_mel(fmax, "htk"), n_mels + 2)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_mels[None, :] - lower) / (center - lower)
    falling = (upper - bin_mels[None, :]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling)).T
    weights[0, :] = 0.0
    return weights.astype(np.float32)


def _as_batch(waveforms: torch.Tensor | np.ndarray) -> torch.Tensor:
    batch = torch.as_tensor(waveforms)
    if batch.ndim == 1:
        batch = batch[None]
    if batch.ndim != 2:
        raise AudioInputError(f"expected (batch, samples) mono audio, got {tuple(batch.shape)}")
    return batch.float()


def _power_spectrogram(batch: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Centred (reflect-padded) STFT power with a periodic Hann window: (B, n_fft//2+1, frames)."""
    window = torch.hann_window(n_fft, periodic=True, device=batch.device)
    if batch.shape[-1] <= n_fft // 2:  # reflect padding needs more samples than the pad width
        batch = F.pad(batch, (0, n_fft // 2 + 1 - batch.shape[-1]))
    spectrum = torch.stft(
        batch,
        n_fft,
        hop_length=hop,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    return spectrum.abs().square()


def _db(power: torch.Tensor, amin: float = 1e-10) -> torch.Tensor:
    return 10.0 * torch.log10(torch.clamp(power, min=amin))


CHOI_RATE, CHOI_N_FFT, CHOI_HOP, CHOI_MELS, CHOI_FRAMES = 12000, 512, 256, 96, 1366
CHOI_WINDOW_SAMPLES = 349_440  # 29.12 s at 12 kHz -> exactly 1366 centred frames


def choi_melgram(waveforms: torch.Tensor | np.ndarray, top_db: float = 80.0) -> torch.Tensor:
    """(B, 349440) 12 kHz mono -> (B, 1, 96, 1366) dB, the Choi et al. 2016 model input."""
    batch = _as_batch(waveforms)
    if batch.shape[-1] != CHOI_WINDOW_SAMPLES:
        raise AudioInputError(
            f"Choi taggers take 29.12 s windows at 12 kHz ({CHOI_WINDOW_SAMPLES} samples), got "
            f"{batch.shape[-1]}; zero-pad or crop first (`fit_length`)"
        )
    filters = torch.from_numpy(
        slaney_mel_filters(CHOI_RATE, CHOI_N_FFT, CHOI_MELS, 0.0, CHOI_RATE / 2)
    ).to(batch.device)
    mel = torch.einsum("bft,fm->bmt", _power_spectrogram(batch, CHOI_N_FFT, CHOI_HOP), filters)
    log_mel = _db(mel.square())  # the authors square the mel power spectrogram once more
    peak = log_mel.amax(dim=(1, 2), keepdim=True)
    log_mel = torch.maximum(log_mel, peak - top_db)
    return log_mel[:, None]


PANNS_RATE, PANNS_N_FFT, PANNS_HOP, PANNS_MELS, PANNS_FMIN, PANNS_FMAX = (
    32000,
    1024,
    320,
    64,
    50.0,
    14000.0,
)


def panns_logmel(waveforms: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(B, samples) 32 kHz mono -> (B, 1, frames, 64) log-mel dB, the PANNs Cnn14 input."""
    batch = _as_batch(waveforms)
    filters = torch.from_numpy(
        slaney_mel_filters(PANNS_RATE, PANNS_N_FFT, PANNS_MELS, PANNS_FMIN, PANNS_FMAX)
    ).to(batch.device)
    power = _power_spectrogram(batch, PANNS_N_FFT, PANNS_HOP)
    return _db(torch.einsum("bft,fm->btm", power, filters))[:, None]


VGGISH_RATE, VGGISH_WINDOW, VGGISH_HOP, VGGISH_FFT, VGGISH_MELS = 16000, 400, 160, 512, 64
VGGISH_EXAMPLE_FRAMES = 96
VGGISH_EXAMPLE_SAMPLES = VGGISH_WINDOW + (VGGISH_EXAMPLE_FRAMES - 1) * VGGISH_HOP  # 15600: 0.975 s


def vggish_logmel(waveforms: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(B, samples) 16 kHz mono -> (B, frames, 64) VGGish log-mel (unpadded 25 ms frames)."""
    batch = _as_batch(waveforms)
    if batch.shape[-1] < VGGISH_WINDOW:
        batch = F.pad(batch, (0, VGGISH_WINDOW - batch.shape[-1]))
    frames = batch.unfold(-1, VGGISH_WINDOW, VGGISH_HOP)  # (B, n_frames, 400)
    window = torch.hann_window(VGGISH_WINDOW, periodic=True, device=batch.device)
    magnitude = torch.fft.rfft(frames * window, n=VGGISH_FFT).abs()
    filters = torch.from_numpy(
        htk_mel_filters(VGGISH_RATE, VGGISH_FFT, VGGISH_MELS, 125.0, 7500.0)
    ).to(batch.device)
    return torch.log(magnitude @ filters + 0.01)


def fit_length(
    audio: np.ndarray, length: int, mode: Literal["pad", "centre"] = "pad"
) -> np.ndarray:
    """Zero-pad a short signal at the end; crop a long one (from the start, or centred)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.shape[-1] < length:
        return np.pad(audio, (0, length - audio.shape[-1]))
    start = (audio.shape[-1] - length) // 2 if mode == "centre" else 0
    return audio[start : start + length]


def read_audio(path: str, target_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode an audio/video file's first audio stream with PyAV -> (mono float32, rate).

    For tests, benchmarks and one-off use; the pipeline decodes trailers itself (extract/decode.py).
    """
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise AudioInputError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
        rate = int(stream.rate)
        planar = stream.format.is_planar if stream.format is not None else True
        channels = stream.channels
    data = np.concatenate(chunks, axis=-1).astype(np.float32)
    if not planar:  # packed: (1, samples * channels), interleaved
        data = data.reshape(-1, channels).T
    if np.issubdtype(chunks[0].dtype, np.integer):
        data /= float(np.iinfo(chunks[0].dtype).max) + 1.0
    mono = to_mono(data)
    if target_rate is not None and target_rate != rate:
        return resample(mono, rate, target_rate), target_rate
    return mono, rate
