"""The paper's audiotag: PANNs `Cnn14_emb128`, 128-d per 3 s window (`audiotag.model=cnn14-emb128`).

Facts the fixtures follow:
- Architecture (qiuqiangkong/audioset_tagging_cnn, `pytorch/models.py`, classes `Cnn14` and
  `Cnn14_emb128`): the two classes differ only in `fc1 = Linear(2048, 128)` and
  `fc_audioset = Linear(128, classes_num)`; same key names, same forward. panns-inference's
  `models.py` has `Cnn14` but no `Cnn14_emb128`, so the reference below is its `Cnn14` with those
  two layers resized, which is exactly the authors' class.
- File layout (same repository, `pytorch/main.py`): `torch.save({'iteration', 'model':
  model.module.state_dict(), 'sampler': train_sampler.state_dict()})`; the balanced sampler's state
  (`utils/data_generator.py`) is `{'indexes_per_class', 'queue', 'pointers_of_classes'}` with numpy
  index arrays. The files predate numpy 2, so numpy is named `numpy.core.multiarray`.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from cinefeat.extract import pretrained
from cinefeat.extract.base import EXTRACTORS, AudioRequest
from cinefeat.extract.extractors import audiotag  # noqa: F401  (registers)
from cinefeat.extract.nets.cnn14 import FRONT_END_PREFIXES, Cnn14, Cnn14Emb128
from cinefeat.extract.nets.runtime import CheckpointError

EMB128_FILE = "CNN14_emb128_mAP=0.412.pth"


def _random_state(model: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """Non-trivial weights and BN statistics, plus the checkpoint's front-end tensors."""
    generator = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    for key, value in state.items():
        if value.dtype.is_floating_point:
            noise = torch.randn(value.shape, generator=generator) * 0.05
            value.copy_(1.0 + noise.abs() if key.endswith("running_var") else noise)
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(513, 1, 1024)
    state["spectrogram_extractor.stft.conv_imag.weight"] = torch.zeros(513, 1, 1024)
    state["logmel_extractor.melW"] = torch.zeros(513, 64)
    return state


def _save_as_the_authors_did(state: dict[str, torch.Tensor], path) -> None:
    """Training-checkpoint dict with numpy sampler state, numpy-1 spelling, legacy container."""
    indexes = np.where(np.arange(40) % 7 == 0)[0].astype(np.int64)
    checkpoint = {
        "iteration": 540000,
        "model": state,
        "sampler": {
            "indexes_per_class": [indexes, indexes[:3]],
            "queue": [],
            "pointers_of_classes": [0, 2],
        },
    }
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    assert b"numpy._core.multiarray\n_reconstruct" in data  # numpy 2 wrote its own spelling
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))


@pytest.fixture
def emb128_cache(tmp_cache):
    state = _random_state(Cnn14Emb128())
    _save_as_the_authors_did(state, pretrained.entry_dir("panns-cnn14-emb128") / EMB128_FILE)
    return state


def _windows(request: AudioRequest, seconds: float) -> list[np.ndarray]:
    rate, window = request.sample_rate, round(request.window_s * request.sample_rate)
    audio = np.random.default_rng(1).normal(0, 0.1, round(seconds * rate)).astype(np.float32)
    hop = round(request.hop_s * rate)
    count = max(1, math.ceil(seconds / request.hop_s))
    return [
        np.pad(w, (0, window - len(w)))
        for w in (audio[i * hop : i * hop + window] for i in range(count))
    ]


def test_emb128_is_cnn14_with_a_128_d_fc1():
    ours = Cnn14Emb128()
    assert tuple(ours.fc1.weight.shape) == (128, 2048)
    assert tuple(ours.fc_audioset.weight.shape) == (527, 128)
    assert set(ours.state_dict()) == set(Cnn14().state_dict())  # same key names


def test_emb128_port_equals_the_authors_variant_of_the_panns_reference(random_panns_cnn14):
    from cinefeat.extract.audio_features import panns_logmel

    pytest.importorskip("torchlibrosa")
    reference = random_panns_cnn14(embedding=128)
    state = reference.state_dict()
    ours = Cnn14Emb128().eval()
    ours.load_state_dict({k: v for k, v in state.items() if not k.startswith(FRONT_END_PREFIXES)})
    audio = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (2, 96000)).astype(np.float32))
    with torch.inference_mode():
        expected = reference(audio)
        embedding, probabilities = ours(panns_logmel(audio))
    assert embedding.shape == (2, 128) and float(embedding.abs().mean()) > 1e-3
    torch.testing.assert_close(embedding, expected["embedding"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(probabilities, expected["clipwise_output"], atol=1e-5, rtol=1e-4)


def test_audiotag_emb128_loads_the_authors_file_and_gives_128_d_per_3_s(emb128_cache):
    extractor = EXTRACTORS.create("audiotag", model="cnn14-emb128")
    assert extractor.weights == "panns-cnn14-emb128" and extractor.dim == 128
    extractor.load("cpu")
    items = _windows(extractor.request(), 7.0)
    assert extractor.request().window_s == extractor.request().hop_s == 3.0
    out = extractor.extract_batch(items)
    assert out.shape == (3, 128) and out.dtype == np.float32  # ceil(7 / 3) windows
    direct = Cnn14Emb128().eval()
    direct.load_state_dict(
        {k: v for k, v in emb128_cache.items() if not k.startswith(FRONT_END_PREFIXES)}
    )
    from cinefeat.extract.audio_features import panns_logmel

    with torch.inference_mode():
        expected, _ = direct(panns_logmel(torch.from_numpy(np.stack(items))))
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-5, rtol=1e-4)
    info = extractor.provenance()
    assert info["dim"] == 128 and info["config"]["model"] == "cnn14-emb128"
    assert info["weights"] == "panns-cnn14-emb128" and info["architecture"] == "Cnn14_emb128"
    assert info["layer"] == "fc1 (128-d embedding)" and info["weights_sha256"] is not None
    both = EXTRACTORS.create("audiotag", model="cnn14-emb128", output="both")
    both.load("cpu")
    assert both.extract_batch(items[:1]).shape == (1, 128 + 527) == (1, both.dim)


def test_a_file_of_the_other_width_is_refused_by_name(tmp_cache):
    # A 2048-d Cnn14 file where the 128-d one belongs (e.g. renamed by hand).
    _save_as_the_authors_did(
        _random_state(Cnn14()), pretrained.entry_dir("panns-cnn14-emb128") / EMB128_FILE
    )
    with pytest.raises(CheckpointError, match=r"2048-d fc1 \(cnn14\).*model=cnn14-emb128"):
        EXTRACTORS.create("audiotag", model="cnn14-emb128").load("cpu")


def test_emb128_offline_missing_names_file_and_command(tmp_cache):
    with pytest.raises(pretrained.WeightsNotFound) as error:
        EXTRACTORS.create("audiotag", model="cnn14-emb128").load("cpu")
    assert EMB128_FILE in str(error.value)
    assert "cinefeat models download panns-cnn14-emb128" in str(error.value)
    url = pretrained.get_weights("panns-cnn14-emb128").main_file.url
    assert url == "https://zenodo.org/record/3987831/files/CNN14_emb128_mAP%3D0.412.pth?download=1"


def test_unknown_audiotag_model_is_refused():
    with pytest.raises(ValueError, match="cnn14, cnn14-emb128"):
        EXTRACTORS.create("audiotag", model="cnn14-emb64")


def test_cinefeat_extract_option_selects_the_paper_model(emb128_cache, tmp_path, cuts_video_maker):
    from click.testing import CliRunner

    from cinefeat.cli.main import main
    from cinefeat.store import FeatureStore

    root = tmp_path / "d"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red", "green", "blue", "white"], seconds=1.75)  # 7 s
    result = CliRunner().invoke(
        main,
        [
            "--quiet",
            "extract",
            str(root),
            "--store",
            str(tmp_path / "s"),
            "--features",
            "audiotag",
            "--option",
            "audiotag.model=cnn14-emb128",
        ],
    )
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "s")
    provenance = store.provenance("audiotag")
    assert provenance["config"]["model"] == "cnn14-emb128" and provenance["dim"] == 128
    rows = store.get("a", "audiotag")
    assert rows.values.shape == (3, 128)  # ceil(7 / 3) windows of 3 s
    np.testing.assert_allclose(rows.spans[:, 0], [0.0, 3.0, 6.0], atol=1e-6)
