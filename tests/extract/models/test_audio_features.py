"""Front-ends: resampling, mono, and the three mel spectrograms, with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinefeat.extract import audio_features as af


def _sine(rate: int, frequency: float, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return np.tile(wave, (channels, 1)) if channels > 1 else wave


def _peak_hz(wave: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("source_rate", [8000, 11025, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("target_rate", [12000, 16000, 32000])
def test_resample_keeps_pitch_and_duration(source_rate, target_rate):
    frequency = 440.0
    out = af.resample(_sine(source_rate, frequency, 1.0), source_rate, target_rate)
    assert out.dtype == np.float32
    assert abs(len(out) - target_rate) <= 1
    assert _peak_hz(out, target_rate) == pytest.approx(frequency, abs=2.0)
    assert np.abs(out[500:-500]).max() == pytest.approx(0.5, abs=0.01)  # unit gain


def test_resample_removes_content_above_new_nyquist():
    out = af.resample(_sine(48000, 9000.0, 1.0), 48000, 16000)  # 9 kHz > 8 kHz Nyquist
    assert np.abs(out[200:-200]).max() < 0.01  # filtered out, not aliased to 7 kHz (edges ring)


def test_mono_averages_stereo_and_5_1():
    stereo = np.stack([np.ones(10), -np.ones(10)]).astype(np.float32)
    np.testing.assert_allclose(af.to_mono(stereo), np.zeros(10))
    surround = np.arange(6, dtype=np.float32)[:, None] * np.ones((6, 4), dtype=np.float32)
    np.testing.assert_allclose(af.to_mono(surround), np.full(4, 2.5))
    with pytest.raises(af.AudioInputError, match="channels, samples"):
        af.to_mono(np.zeros((2, 2, 2)))


def test_slaney_filters_match_librosa():
    librosa = pytest.importorskip("librosa")
    ours = af.slaney_mel_filters(32000, 1024, 64, 50.0, 14000.0)
    theirs = librosa.filters.mel(sr=32000, n_fft=1024, n_mels=64, fmin=50, fmax=14000).T
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-7)
    choi = af.slaney_mel_filters(12000, 512, 96, 0.0, 6000.0)
    np.testing.assert_allclose(
        choi, librosa.filters.mel(sr=12000, n_fft=512, n_mels=96).T, rtol=1e-4, atol=1e-7
    )


def test_panns_logmel_matches_torchlibrosa():
    torchlibrosa = pytest.importorskip("torchlibrosa")
    wave = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (2, 32000)).astype(np.float32))
    spectrogram = torchlibrosa.stft.Spectrogram(
        n_fft=1024,
        hop_length=320,
        win_length=1024,
        window="hann",
        center=True,
        pad_mode="reflect",
        freeze_parameters=True,
    )
    logmel = torchlibrosa.stft.LogmelFilterBank(
        sr=32000,
        n_fft=1024,
        n_mels=64,
        fmin=50,
        fmax=14000,
        ref=1.0,
        amin=1e-10,
        top_db=None,
        freeze_parameters=True,
    )
    expected = logmel(spectrogram(wave))
    ours = af.panns_logmel(wave)
    assert ours.shape == expected.shape == (2, 1, 101, 64)
    np.testing.assert_allclose(ours.numpy(), expected.numpy(), atol=2e-3)


def test_vggish_logmel_frames_and_band_of_a_tone():
    wave = _sine(16000, 1000.0, af.VGGISH_EXAMPLE_SAMPLES / 16000)
    log_mel = af.vggish_logmel(wave)
    assert log_mel.shape == (1, 96, 64)  # 0.975 s -> exactly one 96-frame example
    edges = np.linspace(af.hz_to_mel(125.0, "htk"), af.hz_to_mel(7500.0, "htk"), 66)
    expected_band = int(np.argmin(np.abs(edges[1:-1] - af.hz_to_mel(1000.0, "htk"))))
    assert int(log_mel[0].mean(0).argmax()) == expected_band


def test_choi_melgram_shape_range_and_silence():
    wave = np.random.default_rng(0).normal(0, 0.1, af.CHOI_WINDOW_SAMPLES).astype(np.float32)
    wave[: af.CHOI_WINDOW_SAMPLES // 2] = 0.0  # a silent half reaches the floor
    mel = af.choi_melgram(np.stack([wave, np.zeros_like(wave)]))
    assert mel.shape == (2, 1, 96, 1366)
    assert float(mel[0].max() - mel[0].min()) == pytest.approx(80.0, abs=1e-3)  # 80 dB clip
    assert torch.isfinite(mel).all()
    assert float(mel[1].max()) == pytest.approx(-100.0)  # silence: 10 log10(amin = 1e-10)
    with pytest.raises(af.AudioInputError, match="349440"):
        af.choi_melgram(wave[:1000])


def test_fit_length_pads_and_crops():
    wave = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(af.fit_length(wave, 12)[-2:], [0, 0])
    np.testing.assert_array_equal(af.fit_length(wave, 4, "centre"), [3, 4, 5, 6])
    np.testing.assert_array_equal(af.fit_length(wave, 4), [0, 1, 2, 3])


def test_read_audio_decodes_mp3_with_pyav(shared_dir):
    path = shared_dir / "weights/choi2016-music-tagger/bensound-dubstep.mp3"
    audio, rate = af.read_audio(path, target_rate=12000)
    assert rate == 12000 and audio.ndim == 1
    assert 30.0 < len(audio) / rate < 33.0
    assert 0.05 < float(np.abs(audio).max()) < 1.2  # mp3 decoding may overshoot full scale
