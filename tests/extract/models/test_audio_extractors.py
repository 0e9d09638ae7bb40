"""Audio extractors end to end through the registry and the weights table, offline.

Random weights are saved in the *exact* published file formats (PANNs checkpoint dict, torchvggish
state dict + numpy-pickled PCA file, Keras 1.x h5) into a temporary cache, so the real loading code
runs; the real Choi files are used when `$CINEFEAT_SHARED` is set.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cinefeat.extract import pretrained
from cinefeat.extract.base import EXTRACTORS, AudioRequest
from cinefeat.extract.extractors import audiotag, musicnet, vggish  # noqa: F401  (registers)
from cinefeat.extract.nets.cnn14 import Cnn14
from cinefeat.extract.nets.vggish import VGGish


@pytest.fixture
def cnn14_cache(tmp_cache, unpublished):
    """Random Cnn14 saved as the published `{'model': state_dict}` dict, with the front-end keys."""
    unpublished("panns-cnn14")  # random weights cannot match Zenodo's md5
    torch.manual_seed(0)
    state = Cnn14().state_dict()
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(513, 1, 1024)
    state["spectrogram_extractor.stft.conv_imag.weight"] = torch.zeros(513, 1, 1024)
    state["logmel_extractor.melW"] = torch.zeros(1024 // 2 + 1, 64)
    path = pretrained.entry_dir("panns-cnn14") / "Cnn14_mAP=0.431.pth"
    path.parent.mkdir(parents=True)
    torch.save({"iteration": 0, "model": state}, path)
    return tmp_cache


@pytest.fixture
def vggish_cache(tmp_cache):
    torch.manual_seed(0)
    folder = pretrained.entry_dir("vggish")
    folder.mkdir(parents=True)
    torch.save(VGGish().state_dict(), folder / vggish.MODEL_FILE)
    rng = np.random.default_rng(0)
    pca = {"pca_eigen_vectors": rng.normal(0, 0.1, (128, 128)), "pca_means": rng.normal(0, 1, 128)}
    torch.save(pca, folder / vggish.PCA_FILE)  # numpy arrays, as the published file
    return tmp_cache


def _windows(request: AudioRequest, seconds: float, seed: int = 0) -> list[np.ndarray]:
    """What the pipeline hands an audio extractor: ceil(duration / hop) windows, last padded."""
    rate, window = request.sample_rate, round(request.window_s * request.sample_rate)
    audio = np.random.default_rng(seed).normal(0, 0.1, round(seconds * rate)).astype(np.float32)
    count = max(1, math.ceil(seconds / request.hop_s))
    hop = round(request.hop_s * rate)
    return [
        np.pad(w, (0, window - len(w)))
        for w in (audio[i * hop : i * hop + window] for i in range(count))
    ]


def test_audiotag_loads_published_format_and_embeds(cnn14_cache):
    extractor = EXTRACTORS.create("audiotag")
    extractor.load("cpu")
    items = _windows(extractor.request(), 7.0)
    assert len(items) == 3  # ceil(7 / 3)
    out = extractor.extract_batch(items)
    assert out.shape == (3, 2048) and out.dtype == np.float32 and np.isfinite(out).all()
    silent = extractor.extract_batch([np.zeros(96000, np.float32)])
    assert np.isfinite(silent).all()
    info = extractor.provenance()
    assert info["weights_sha256"] is not None and info["dim"] == 2048


def test_audiotag_tags_and_both(cnn14_cache):
    extractor = EXTRACTORS.create("audiotag", output="both")
    extractor.load("cpu")
    out = extractor.extract_batch(_windows(extractor.request(), 3.0))
    assert out.shape == (1, 2048 + 527) == (1, extractor.dim)
    assert ((out[:, 2048:] >= 0) & (out[:, 2048:] <= 1)).all()


def test_a_file_that_is_not_zenodos_is_refused_by_its_md5(tmp_cache):
    path = pretrained.entry_dir("panns-cnn14") / "Cnn14_mAP=0.431.pth"
    path.parent.mkdir(parents=True)
    torch.save({"iteration": 0, "model": {"fc1.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(pretrained.DownloadRejected, match="541141fa2ee191a88f24a3219fff024e"):
        EXTRACTORS.create("audiotag").load("cpu")
    assert not (tmp_cache / "recorded-sha256.json").exists()


def test_audiotag_rejects_a_foreign_checkpoint(tmp_cache, unpublished):
    unpublished("panns-cnn14")
    path = pretrained.entry_dir("panns-cnn14") / "Cnn14_mAP=0.431.pth"
    path.parent.mkdir(parents=True)
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, path)
    extractor = EXTRACTORS.create("audiotag")
    with pytest.raises(Exception, match="does not match Cnn14"):
        extractor.load("cpu")


def test_vggish_raw_and_postprocessed(vggish_cache):
    extractor = EXTRACTORS.create("vggish")
    extractor.load("cpu")
    request = extractor.request()
    assert round(request.window_s * 16000) == 15600  # 96 unpadded 25 ms frames
    out = extractor.extract_batch(_windows(request, 2.5))
    assert out.shape == (3, 128) and np.isfinite(out).all() and (out >= 0).all()  # ReLU
    post = EXTRACTORS.create("vggish", postprocess=True)
    post.load("cpu")
    quantised = post.extract_batch(_windows(request, 2.5))
    assert quantised.shape == (3, 128)
    assert np.array_equal(quantised, np.round(quantised)) and quantised.min() >= 0
    assert quantised.max() <= 255


def test_vggish_postprocess_flag_of_cinefeat_extract(vggish_cache, tmp_path, cuts_video_maker):
    from click.testing import CliRunner

    from cinefeat.cli.main import main
    from cinefeat.store import FeatureStore

    root = tmp_path / "d"
    root.mkdir()
    cuts_video_maker(root / "a.mp4", ["red", "blue"])  # 2 s with a 440 Hz tone
    command = ["--quiet", "extract", str(root), "--store", str(tmp_path / "s"), "--features"]
    result = CliRunner().invoke(main, [*command, "vggish", "--vggish-postprocess"])
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "s")
    assert store.provenance("vggish")["config"]["postprocess"] is True
    values = store.get("a", "vggish").values.astype(np.float32)
    assert values.shape == (3, 128) and np.array_equal(values, np.round(values))  # 0..255


def test_vggish_postprocess_known_answer():
    from cinefeat.extract.nets.vggish import VGGishPostprocess

    post = VGGishPostprocess(np.eye(128), np.zeros(128))
    embedding = torch.zeros(1, 128)
    embedding[0, :3] = torch.tensor([2.0, -5.0, 1.0])
    out = post(embedding)[0]
    assert out[:3].tolist() == [255.0, 0.0, 191.0]  # (x + 2) * 255 / 4, clipped, rounded
    assert out[3] == 128.0  # 127.5 rounds half to even


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("audiotag", "Cnn14_mAP=0.431.pth"),
        ("vggish", "vggish-10086976.pth"),
        ("musicnet", "music_tagger_cnn_weights_tensorflow.h5"),
        ("musicnet-crnn", "music_tagger_crnn_weights_tensorflow.h5"),
    ],
)
def test_missing_weights_offline_names_file_and_command(tmp_cache, name, filename):
    extractor = EXTRACTORS.create(name)
    with pytest.raises(pretrained.WeightsNotFound) as error:
        extractor.load("cpu")
    message = str(error.value)
    assert filename in message
    assert f"cinefeat models download {extractor.weights}" in message


def test_musicnet_from_a_local_keras_file(tmp_cache, tmp_path, keras1_file, random_choi):
    path = keras1_file(tmp_path / "crnn.h5", random_choi("crnn"), suffix="_1")
    pretrained.add_local("my-crnn", path, like="choi2016-music-tagger-crnn")
    extractor = EXTRACTORS.create("musicnet-crnn", weights="my-crnn", output="both")
    extractor.load("cpu")
    out = extractor.extract_batch([np.zeros(12000, np.float32)])  # 1 s: padded to one window
    assert out.shape == (1, 32 + 50) and np.isfinite(out).all()


def test_musicnet_real_weights_on_short_and_silent_audio(choi_cache):
    cnn = EXTRACTORS.create("musicnet")
    cnn.load("cpu")
    assert cnn.request() == AudioRequest(sample_rate=12000, window_s=29.12, hop_s=29.12)
    short = np.random.default_rng(0).normal(0, 0.1, 5 * 12000).astype(np.float32)
    out = cnn.extract_batch([short, np.zeros(349_440, np.float32)])
    assert out.shape == (2, 256) and np.isfinite(out).all()
    info = cnn.provenance()
    assert info["weights_sha256"] == musicnet.CNN_WEIGHTS.main_file.sha256


@pytest.mark.slow
def test_audio_extractors_through_the_pipeline_on_the_trailer(
    media,
    cnn14_cache,
    vggish_cache,
    ast_cache,
    choi_cache,
    memory_store,
    record_factory,
):
    """Every audio extractor, run by the pipeline (one decode) on the real 55.1 s trailer whose
    audio stream ends at 52.2 s: windows start at 0 every hop and tile the whole trailer (the
    track is silence after its end), 1 + ceil((duration - window) / hop) of them, which is
    ceil(duration / hop) when window == hop (ceil(55.1 / 3) = 19 audiotag rows), and every row
    is finite."""
    from cinefeat.extract.runner import LocalRunner, RunOptions
    from cinefeat.extract.scan import Trailer

    names = ("audiotag", "vggish", "ast", "musicnet", "musicnet-crnn")
    extractors = {name: EXTRACTORS.create(name) for name in names}
    runner = LocalRunner(
        memory_store, extractors, RunOptions(batch_size=8), record_factory=record_factory
    )
    summary = runner.run([Trailer("bbb", media("trailer_bbb.mp4"))])
    assert (summary.ok, summary.failed) == (1, 0), summary.failures
    record = memory_store.record("bbb")
    duration = record.duration_s
    assert abs(duration - 55.125) < 1e-3
    assert record.feature_status == dict.fromkeys(names, "ok")
    expected_rows = {"audiotag": 19, "vggish": 58, "ast": 10, "musicnet": 2, "musicnet-crnn": 2}
    for name, extractor in extractors.items():
        request = extractor.request()
        rows = memory_store.get("bbb", name)
        count = 1 + math.ceil(max(0.0, duration - request.window_s) / request.hop_s)
        assert count == expected_rows[name], name
        assert rows.values.shape == (count, extractor.dim), name
        assert np.isfinite(rows.values).all(), name
        starts, ends = rows.spans[:, 0], rows.spans[:, 1]
        np.testing.assert_allclose(starts, np.arange(count) * request.hop_s, atol=1e-6)
        assert np.all(ends - starts <= request.window_s + 1e-6) and np.all(ends[:-1] >= starts[1:])
        assert abs(ends[-1] - duration) <= 1 / request.sample_rate, name
    assert math.ceil(55.1 / 3) == expected_rows["audiotag"]


def test_configuration_is_validated_and_recorded():
    crnn = EXTRACTORS.create("musicnet-crnn", hop_s=10.0, output="tags")
    assert crnn.request().hop_s == 10.0 and crnn.dim == 50
    assert crnn.provenance()["config"]["hop_s"] == 10.0
    with pytest.raises(ValueError, match="hop_s must be > 0"):
        EXTRACTORS.create("musicnet", hop_s=0)
    with pytest.raises(ValueError, match="output must be"):
        EXTRACTORS.create("audiotag", output="logits")
    with pytest.raises(ValueError, match="window_s"):
        EXTRACTORS.create("ast", window_s=20.0)
    with pytest.raises(RuntimeError, match=r"load\(\) must be called"):
        EXTRACTORS.create("vggish").extract_batch([np.zeros(15600, np.float32)])


def test_cnn14_port_equals_the_panns_reference_model(random_panns_cnn14):
    from cinefeat.extract.audio_features import panns_logmel
    from cinefeat.extract.nets.cnn14 import FRONT_END_PREFIXES

    pytest.importorskip("torchlibrosa")
    reference = random_panns_cnn14()
    state = reference.state_dict()
    ours = Cnn14().eval()
    ours.load_state_dict({k: v for k, v in state.items() if not k.startswith(FRONT_END_PREFIXES)})
    audio = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (2, 96000)).astype(np.float32))
    with torch.inference_mode():
        expected = reference(audio)
        embedding, probabilities = ours(panns_logmel(audio))
    assert float(embedding.abs().mean()) > 1e-3
    torch.testing.assert_close(embedding, expected["embedding"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(probabilities, expected["clipwise_output"], atol=1e-5, rtol=1e-4)
