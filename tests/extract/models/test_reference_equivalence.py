"""The ported networks and front ends against the reference implementations from the registry.

Why: cinefeat runs its own modules (no `torch.hub` download at construction, no full unpickling),
so each port is only trustworthy if it computes what the implementation the weights were made for
computes. Both sides get the same random weights and the same input; the references are imported
without their download code running (fixtures in conftest):

- torchvggish 0.2 (harritaylor/torchvggish, the `dev` extra): `torchvggish.vggish()` fetches both
  release files with `hub.load_state_dict_from_url`; `vggish_reference` swaps that one function for
  a lookup that serves in-memory dicts for exactly those two URLs (anything else raises).
- panns-inference (the `extract` extra): its package `__init__` runs wget, so `models.py` is loaded
  on its own (`panns_models`).

Both references are dependencies of the extras CI installs, so a missing one fails here instead
of skipping the comparison.
"""

from __future__ import annotations

import numpy as np
import torch

from cinefeat.extract.audio_features import (
    VGGISH_EXAMPLE_SAMPLES,
    panns_logmel,
    vggish_logmel,
)
from cinefeat.extract.extractors import vggish as vggish_extractor
from cinefeat.extract.nets.vggish import VGGish, VGGishPostprocess


def test_cinefeat_fetches_the_files_torchvggish_fetches(torchvggish):
    release = vggish_extractor.RELEASE
    assert release.format(filename=vggish_extractor.MODEL_FILE) == torchvggish.VGGISH_WEIGHTS
    assert release.format(filename=vggish_extractor.PCA_FILE) == torchvggish.PCA_PARAMS


def test_vggish_port_and_postprocessing_equal_torchvggish(
    vggish_reference, random_vggish_state, random_vggish_pca
):
    state = random_vggish_state()
    ours = VGGish().eval()
    ours.load_state_dict(state)  # the published keys load as they are: no renaming
    examples = torch.randn(4, 1, 96, 64, generator=torch.Generator().manual_seed(1)) * 2 - 4
    with torch.inference_mode():
        embedding = ours(examples)
    pca = random_vggish_pca(embedding)
    raw_reference = vggish_reference(state, pca, postprocess=False)
    post_reference = vggish_reference(state, pca, postprocess=True)
    with torch.inference_mode():
        expected = raw_reference(examples)
        quantised = VGGishPostprocess(pca["pca_eigen_vectors"], pca["pca_means"])(embedding)
        expected_quantised = post_reference(examples)
    assert float((embedding > 0).float().mean()) > 0.2  # not a dead ReLU output
    torch.testing.assert_close(embedding, expected, atol=1e-5, rtol=0)  # measured: 0
    spread = ((quantised > 0) & (quantised < 255)).float().mean()
    assert float(spread) > 0.5  # most values inside the quantiser's range, not clipped
    torch.testing.assert_close(quantised, expected_quantised, atol=0, rtol=0)


def test_vggish_front_end_equals_torchvggish_waveform_to_examples(require_reference):
    reference_input = require_reference("torchvggish.vggish_input", "dev")
    rate = 16000
    t = np.arange(3 * rate) / rate
    noise = np.random.default_rng(0).normal(0, 0.05, t.size)
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)
    expected = reference_input.waveform_to_examples(wave, rate, return_tensor=False)
    # what the extractor gets: 0.975 s windows every 0.96 s
    hop = round(vggish_extractor.EXAMPLE_HOP_S * rate)
    windows = [wave[i * hop : i * hop + VGGISH_EXAMPLE_SAMPLES] for i in range(len(expected))]
    ours = vggish_logmel(torch.from_numpy(np.stack(windows))).double().numpy()
    assert expected.shape == ours.shape == (3, 96, 64)
    np.testing.assert_allclose(ours, expected, atol=5e-5, rtol=0)  # measured: 1.3e-5 (fp32 FFT)


def test_cnn14_front_end_equals_panns_reference(panns_models):
    reference = panns_models.Cnn14(
        sample_rate=32000,
        window_size=1024,
        hop_size=320,
        mel_bins=64,
        fmin=50,
        fmax=14000,
        classes_num=527,
    ).eval()
    rate = 32000
    t = np.arange(3 * rate) / rate
    audio = 0.2 * np.sin(2 * np.pi * 1000 * t) + np.random.default_rng(0).normal(0, 0.05, t.size)
    batch = torch.from_numpy(np.stack([audio, audio[::-1].copy()]).astype(np.float32))
    with torch.inference_mode():
        expected = reference.logmel_extractor(reference.spectrogram_extractor(batch))
        ours = panns_logmel(batch)
    assert ours.shape == expected.shape == (2, 1, 301, 64)
    torch.testing.assert_close(ours, expected, atol=5e-4, rtol=0)  # dB; measured: 7e-5
