"""Read Keras 1.x `.h5` weight files with h5py and convert their tensors to PyTorch layouts.

Why our own converter: the Choi et al. (2016) music taggers are published only as Keras 1.x weight
files, and today's Keras cannot load them (layer names, the Theano-era `running_std`, GRU gates
stored one by one). h5py reads the raw arrays without executing anything from the file, and a few
pure functions map each Keras layer to the arithmetic of its PyTorch counterpart. Every mapping
here is checked by a known-answer test (tests/extract/models/test_keras_h5.py) and, end to end, by
the published outputs of the authors' models.

Layout of a Keras 1.x weights file: the root attribute `layer_names` lists the layers in order;
group `<layer>` holds datasets `<layer>_<param>[_<n>]:0` (the `_<n>` suffix appears when a model
was built twice in one session, e.g. `bn1_gamma_1:0`), listed by the group attribute
`weight_names`.

Keras 1 facts the converters encode (Keras 1.0.x source, `keras/layers/*.py`):
- Convolution2D kernels in a `_tensorflow` file are stored (out, in, h, w) and are already in
  cross-correlation form (what `torch.nn.functional.conv2d` computes); a `_theano` file holds
  true-convolution kernels that must be flipped in both spatial axes (`flip_kernel=True`).
- Dense `W` is (in, out): PyTorch's `Linear.weight` is its transpose.
- BatchNormalization stores `gamma, beta, running_mean, running_std` and its epsilon defaults to
  1e-6. Whether `running_std` holds a standard deviation or a variance depends on the backend the
  file was trained with (the TensorFlow backend's moving update stores the variance under that name,
  the Theano one the standard deviation), so the caller says which (`std_is_variance`).
- GRU stores gates z (update), r (reset), h (candidate) separately as `W_*` (in, units), `U_*`
  (units, units), `b_*`; the inner activation defaults to hard_sigmoid = clip(0.2 x + 0.5, 0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cinefeat.extract.base import LoadError

KERAS1_BN_EPSILON = 1e-6


class KerasFileError(LoadError, ValueError):
    """The file is not a Keras 1.x weights file with the layers/parameters the model expects."""


@dataclass(frozen=True)
class KerasLayer:
    """The parameters of one layer: short parameter name (`W`, `gamma`, `U_z`...) -> array."""

    name: str
    params: dict[str, np.ndarray]

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.params:
            raise KerasFileError(
                f"layer {self.name!r} has no parameter {key!r} (it has {sorted(self.params)}); "
                f"the file does not match this model"
            )
        return self.params[key]


def read_keras1_h5(path: str | Path) -> dict[str, KerasLayer]:
    """Layers with weights, by name, in file order. Layers without weights are left out."""
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise KerasFileError(f"{path} is not a readable HDF5 file: {error}") from error
    with handle:
        if "layer_names" not in handle.attrs:
            raise KerasFileError(
                f"{path} has no `layer_names` attribute: not a Keras 1.x weights file "
                f"(save_weights output)"
            )
        layers: dict[str, KerasLayer] = {}
        for raw_name in handle.attrs["layer_names"]:
            name = _text(raw_name)
            group = handle[name]
            weight_names = [_text(w) for w in group.attrs.get("weight_names", [])]
            if not weight_names:
                continue
            params = {
                short_param_name(name, w): np.asarray(group[w], dtype=np.float32)
                for w in weight_names
            }
            layers[name] = KerasLayer(name, params)
    return layers


def short_param_name(layer: str, weight_name: str) -> str:
    """`bn1_running_std_1:0` in layer `bn1` -> `running_std`; `gru1_W_z:0` -> `W_z`."""
    stem = weight_name.split(":", 1)[0]
    if stem.startswith(layer + "_"):
        stem = stem[len(layer) + 1 :]
    head, _, tail = stem.rpartition("_")
    if head and tail.isdigit():  # build-count suffix added by Keras 1 (`gamma_1`)
        stem = head
    return stem


def conv2d_kernel(layer: KerasLayer, flip_kernel: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(weight (out, in, h, w) for torch conv2d, bias (out,))."""
    kernel = layer["W"]
    if kernel.ndim != 4:
        raise KerasFileError(f"{layer.name}: conv kernel has shape {kernel.shape}, expected 4-D")
    if flip_kernel:
        kernel = kernel[:, :, ::-1, ::-1]
    return np.ascontiguousarray(kernel), layer["b"]


def dense(layer: KerasLayer) -> tuple[np.ndarray, np.ndarray]:
    """(weight (out, in) for torch Linear, bias (out,))."""
    return np.ascontiguousarray(layer["W"].T), layer["b"]


def batchnorm_affine(
    layer: KerasLayer, std_is_variance: bool, epsilon: float = KERAS1_BN_EPSILON
) -> tuple[np.ndarray, np.ndarray]:
    """Inference-time BatchNormalization as `x * scale + shift` (per normalised index).

    Keras 1 computes `(x - mean) / sqrt(var + eps) * gamma + beta` (TensorFlow backend, where the
    stored `running_std` is a variance) or `(x - mean) / (std + eps) * gamma + beta` (Theano
    backend's stored standard deviation).
    """
    gamma, beta = layer["gamma"], layer["beta"]
    mean, stored = layer["running_mean"], layer["running_std"]
    denominator = np.sqrt(stored + epsilon) if std_is_variance else stored + epsilon
    scale = gamma / denominator
    shift = beta - mean * scale
    return scale.astype(np.float32), shift.astype(np.float32)


GRU_GATES = ("z", "r", "h")


def gru_gates(layer: KerasLayer) -> dict[str, np.ndarray]:
    """Keras 1 GRU -> {`W_z`: (in, units), `U_z`: (units, units), `b_z`: (units,), ...}.

    Kept per gate (not packed like `torch.nn.GRU`) because Keras 1 applies the reset gate to the
    state *before* the recurrent product of the candidate (`(r * h) @ U_h`), which torch's GRU does
    not, so a Keras-faithful cell is written out explicitly (see `cinefeat.extract.nets.choi`).
    """
    out = {}
    for gate in GRU_GATES:
        for kind in ("W", "U", "b"):
            out[f"{kind}_{gate}"] = layer[f"{kind}_{gate}"]
    units = out["U_z"].shape[0]
    for gate in GRU_GATES:
        if out[f"U_{gate}"].shape != (units, units) or out[f"b_{gate}"].shape != (units,):
            raise KerasFileError(f"{layer.name}: inconsistent GRU gate shapes for gate {gate}")
    return out


def _text(value: bytes | str) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)
