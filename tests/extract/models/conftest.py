"""Fixtures of the model tests: Keras-1 files written in the published layout, shared Choi files.

Files are written in the *exact* published formats (Keras 1.x `save_weights` h5 layout, PyTorch
checkpoint dicts, Hugging Face directories) with random weights, so the real loading code runs
offline; the real Choi files come from `$CINEFEAT_SHARED` when it is set.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import shutil
import types
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import torch

from cinefeat.extract import pretrained

CHOI_DIR = "weights/choi2016-music-tagger"
SONGS = ("cute", "actionable", "dubstep", "thejazzpiano")


def write_keras1_h5(path: Path, layers: dict[str, dict[str, np.ndarray]], suffix: str = "") -> Path:
    """Keras 1.x `save_weights` layout: root `layer_names`, group per layer, `weight_names`."""
    import h5py

    with h5py.File(path, "w") as handle:
        names = [*layers, "dropout_1"]  # a layer without weights, as in the published files
        handle.attrs["layer_names"] = np.array([n.encode() for n in names])
        for layer in names:
            group = handle.create_group(layer)
            params = layers.get(layer, {})
            weight_names = [f"{layer}_{p}{suffix}:0".encode() for p in params]
            group.attrs["weight_names"] = np.array(weight_names) if params else np.array([])
            for value, weight_name in zip(params.values(), weight_names, strict=True):
                group.create_dataset(weight_name.decode(), data=value.astype(np.float32))
    return path


def random_choi_layers(model: str, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Random parameters with the shapes of the published CNN or CRNN file."""
    rng = np.random.default_rng(seed)
    channels, frames = (
        ((32, 128, 128, 192, 256), 1366) if model == "cnn" else ((64, 128, 128, 128), 1440)
    )

    def bn(size: int) -> dict[str, np.ndarray]:
        return {
            "gamma": rng.uniform(0.5, 1.5, size),
            "beta": rng.normal(0, 0.1, size),
            "running_mean": rng.normal(0, 0.1, size),
            "running_std": rng.uniform(0.5, 1.5, size),
        }

    layers: dict[str, dict[str, np.ndarray]] = {"bn_0_freq": bn(frames)}
    previous = 1
    for index, width in enumerate(channels, start=1):
        fan_in = previous * 9
        layers[f"conv{index}"] = {
            "W": rng.normal(0, (2 / fan_in) ** 0.5, (width, previous, 3, 3)),
            "b": np.zeros(width),
        }
        layers[f"bn{index}"] = bn(width)
        previous = width
    if model == "crnn":
        for name, size_in in (("gru1", 128), ("gru2", 32)):
            gates: dict[str, np.ndarray] = {}
            for gate in "zrh":
                gates[f"W_{gate}"] = rng.normal(0, 0.1, (size_in, 32))
                gates[f"U_{gate}"] = rng.normal(0, 0.1, (32, 32))
                gates[f"b_{gate}"] = np.zeros(32)
            layers[name] = gates
    layers["output"] = {
        "W": rng.normal(0, 0.1, (previous if model == "cnn" else 32, 50)),
        "b": np.zeros(50),
    }
    return layers


def save_numpy1_legacy(obj: object, path: Path) -> Path:
    """`torch.save` in the legacy (< 1.6, non-zip) container, numpy arrays under numpy 1's names.

    Files pickled before numpy 2 name `numpy.core.multiarray._reconstruct`; numpy 2 cannot write
    that spelling, so the GLOBAL operand is rewritten. Protocol 2's GLOBAL is a newline-terminated
    `module\\nname` pair, so no lengths need fixing.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    if b"numpy._core.multiarray\n" in data:
        data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    path.write_bytes(data)
    return path


class _Torch03Pickler(pickle.Pickler):
    """Pickles tensors as PyTorch 0.3 did: `torch._utils._rebuild_tensor(storage, offset, size,
    stride)` (v1, without the `requires_grad` and hooks that 0.4's `_rebuild_tensor_v2` added).
    torch's legacy saver still pickles the storages (`persistent_id`), as 0.3 did."""

    def reducer_override(self, obj: object):
        if type(obj) is torch.Tensor:
            storage = torch.storage.TypedStorage(
                wrap_storage=obj.untyped_storage(), dtype=obj.dtype, _internal=True
            )
            args = (storage, obj.storage_offset(), tuple(obj.size()), obj.stride())
            return torch._utils._rebuild_tensor, args
        return NotImplemented


def save_torch03_state_dict(state: Mapping[str, torch.Tensor], path: Path) -> Path:
    """A PyTorch 0.3 state dict file: a plain `OrderedDict` of v1-rebuilt tensors in the legacy
    container, without the `_metadata` version record that later `state_dict()`s carry."""
    plain = OrderedDict((key, value.detach()) for key, value in state.items())
    module = types.SimpleNamespace(__name__="pickle", Pickler=_Torch03Pickler, dump=pickle.dump)
    buffer = io.BytesIO()
    torch.save(plain, buffer, pickle_module=module, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    if b"_rebuild_tensor_v2" in data or b"torch._utils\n_rebuild_tensor\n" not in data:
        raise AssertionError("the 0.3-style pickler did not write v1 tensors")
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def numpy1_pickle():
    """`numpy1_pickle(obj, path)`: see `save_numpy1_legacy`."""
    return save_numpy1_legacy


@pytest.fixture(scope="session")
def torch03_pickle():
    """`torch03_pickle(state_dict, path)`: see `save_torch03_state_dict`."""
    return save_torch03_state_dict


def load_panns_reference_models() -> types.ModuleType:
    """panns_inference's `models.py` loaded *without* its package `__init__` (which runs wget).

    panns-inference is in the `extract` extra, so a missing reference fails instead of skipping.
    """
    import sys

    found = importlib.util.find_spec("panns_inference")
    if found is None or found.origin is None or importlib.util.find_spec("torchlibrosa") is None:
        pytest.fail("panns-inference (and torchlibrosa) are missing: `pip install -e '.[extract]'`")
    folder = Path(found.origin).parent
    package = types.ModuleType("_panns_reference")
    package.__path__ = [str(folder)]
    sys.modules.setdefault("_panns_reference", package)
    name = "_panns_reference.models"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, folder / "models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def panns_models() -> types.ModuleType:
    """The reference `panns_inference.models` module (see `load_panns_reference_models`)."""
    return load_panns_reference_models()


@pytest.fixture
def random_panns_cnn14(panns_models):
    """`random_panns_cnn14(embedding=2048)`: the authors' Cnn14 (panns_inference/models.py, the
    class the Zenodo files were trained as) with random weights and non-trivial BatchNorm
    statistics. `embedding=128` is their `Cnn14_emb128`, which changes only `fc1` (2048 -> 128)
    and `fc_audioset` (128 -> 527) (audioset_tagging_cnn pytorch/models.py)."""
    from cinefeat.extract.nets.cnn14 import FRONT_END_PREFIXES

    def build(embedding: int = 2048) -> torch.nn.Module:
        model = panns_models.Cnn14(
            sample_rate=32000,
            window_size=1024,
            hop_size=320,
            mel_bins=64,
            fmin=50,
            fmax=14000,
            classes_num=527,
        )
        if embedding != 2048:
            model.fc1 = torch.nn.Linear(2048, embedding, bias=True)
            model.fc_audioset = torch.nn.Linear(embedding, 527, bias=True)
        model.eval()
        generator = torch.Generator().manual_seed(0)
        state = model.state_dict()
        for key, value in state.items():
            if value.dtype.is_floating_point and not key.startswith(FRONT_END_PREFIXES):
                noise = torch.randn(value.shape, generator=generator) * 0.05
                value.copy_(1.0 + noise.abs() if key.endswith("running_var") else noise)
        model.load_state_dict(state)
        return model

    return build


def import_reference(module: str, extra: str) -> types.ModuleType:
    """A reference implementation from one of the extras CI installs: missing fails, not skips."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{module} is missing ({error}): `pip install -e '.[{extra}]'`")


@pytest.fixture(scope="session")
def require_reference():
    """`require_reference(module, extra)`: see `import_reference`."""
    return import_reference


@pytest.fixture(scope="session")
def torchvggish() -> types.ModuleType:
    """torchvggish 0.2's model module (`torchvggish/torchvggish.py`: `VGG`, `Postprocessor`,
    `vggish()`, and the release URLs `VGGISH_WEIGHTS`, `PCA_PARAMS`)."""
    return import_reference("torchvggish.torchvggish", "dev")


def make_random_vggish_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """He-scaled random weights, so activations neither vanish nor explode through 9 layers."""
    from cinefeat.extract.nets.vggish import VGGish

    generator = torch.Generator().manual_seed(seed)
    state = VGGish().state_dict()
    for key, value in state.items():
        if key.endswith("weight"):
            fan_in = value[0].numel()
            value.copy_(torch.randn(value.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
        else:
            value.copy_(torch.randn(value.shape, generator=generator) * 0.01)
    return state


def make_random_vggish_pca(embeddings: torch.Tensor, seed: int = 0) -> dict[str, np.ndarray]:
    """PCA parameters that spread `embeddings` over the quantiser's [-2, 2] (few clipped values),
    as numpy arrays like the published file holds (torchvggish reads them with `reshape(-1, 1)`)."""
    rng = np.random.default_rng(seed)
    emb = embeddings.double().numpy()
    scale = 1.0 / (emb.std() * np.sqrt(emb.shape[1]) + 1e-12)
    return {
        "pca_eigen_vectors": rng.normal(0.0, scale, (128, 128)),
        "pca_means": emb.mean(axis=0),
    }


@pytest.fixture(scope="session")
def random_vggish_state():
    """`random_vggish_state(seed)`: see `make_random_vggish_state`."""
    return make_random_vggish_state


@pytest.fixture(scope="session")
def random_vggish_pca():
    """`random_vggish_pca(embeddings, seed)`: see `make_random_vggish_pca`."""
    return make_random_vggish_pca


@pytest.fixture
def vggish_reference(torchvggish, monkeypatch):
    """`vggish_reference(state, pca, postprocess)`: `torchvggish.vggish()` as a user builds it
    (torchvggish/torchvggish.py), its two release downloads answered from memory."""

    def build(state, pca, postprocess: bool) -> torch.nn.Module:
        served = {torchvggish.VGGISH_WEIGHTS: state, torchvggish.PCA_PARAMS: pca}

        def load_state_dict_from_url(url: str, *args, **kwargs):
            return served[url]  # KeyError: any other download

        fake_hub = types.SimpleNamespace(load_state_dict_from_url=load_state_dict_from_url)
        monkeypatch.setattr(torchvggish, "hub", fake_hub)
        return torchvggish.vggish(postprocess=postprocess).eval()

    return build


@pytest.fixture(scope="session")
def keras1_file():
    """`keras1_file(path, layers, suffix="")` writes a Keras 1.x weights file (see above)."""
    return write_keras1_h5


@pytest.fixture(scope="session")
def random_choi():
    """`random_choi("cnn" | "crnn", seed)` -> layers with the published shapes."""
    return random_choi_layers


@pytest.fixture(scope="session")
def choi_dir(shared_dir: Path) -> Path:
    path = shared_dir / CHOI_DIR
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture
def choi_cache(tmp_cache: Path, choi_dir: Path) -> Path:
    """The offline cache holding the published Choi files (fetched = copied from shared)."""
    for entry, filename in (
        ("choi2016-music-tagger-cnn", "music_tagger_cnn_weights_tensorflow.h5"),
        ("choi2016-music-tagger-crnn", "music_tagger_crnn_weights_tensorflow.h5"),
    ):
        target = pretrained.entry_dir(entry) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(choi_dir / filename, target)
    return tmp_cache


@pytest.fixture
def ast_cache(tmp_cache, tmp_path):
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    config = ASTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=527,
    )
    torch.manual_seed(0)
    folder = tmp_path / "ast"
    ASTForAudioClassification(config).save_pretrained(folder, safe_serialization=True)
    ASTFeatureExtractor().save_pretrained(folder)
    assert {p.name for p in folder.iterdir()} >= set(
        {"model.safetensors", "config.json", "preprocessor_config.json"}
    )
    target = pretrained.entry_dir("ast-audioset")
    target.mkdir(parents=True)
    for path in folder.iterdir():
        shutil.copyfile(path, target / path.name)
    return tmp_cache
