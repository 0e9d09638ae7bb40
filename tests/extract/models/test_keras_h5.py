"""The Keras 1.x -> PyTorch converter, unit by unit, with answers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from cinefeat.extract import keras_h5
from cinefeat.extract.nets import choi


def test_reads_layers_in_order_and_strips_build_suffix(tmp_path, keras1_file):
    layers = {
        "bn1": {
            "gamma": np.ones(2),
            "beta": np.zeros(2),
            "running_mean": np.zeros(2),
            "running_std": np.ones(2),
        },
        "conv1": {"W": np.ones((2, 1, 3, 3)), "b": np.zeros(2)},
    }
    path = keras1_file(tmp_path / "w.h5", layers, suffix="_1")
    read = keras_h5.read_keras1_h5(path)
    assert list(read) == ["bn1", "conv1"]  # the weightless `dropout_1` is left out
    assert sorted(read["bn1"].params) == ["beta", "gamma", "running_mean", "running_std"]
    assert read["conv1"]["W"].dtype == np.float32


@pytest.mark.parametrize(
    ("layer", "weight", "short"),
    [
        ("bn1", "bn1_running_std_1:0", "running_std"),
        ("gru1", "gru1_W_z:0", "W_z"),
        ("bn_0_freq", "bn_0_freq_gamma:0", "gamma"),
        ("output", "output_b_1:0", "b"),
    ],
)
def test_short_param_name(layer, weight, short):
    assert keras_h5.short_param_name(layer, weight) == short


def test_not_a_keras_file_is_a_clear_error(tmp_path):
    import h5py

    with h5py.File(tmp_path / "x.h5", "w") as handle:
        handle.create_dataset("a", data=np.zeros(3))
    with pytest.raises(keras_h5.KerasFileError, match="layer_names"):
        keras_h5.read_keras1_h5(tmp_path / "x.h5")
    (tmp_path / "y.h5").write_bytes(b"not hdf5")
    with pytest.raises(keras_h5.KerasFileError, match="not a readable HDF5"):
        keras_h5.read_keras1_h5(tmp_path / "y.h5")


def _bn_layer(stored: float) -> keras_h5.KerasLayer:
    one = np.ones(1, dtype=np.float32)
    return keras_h5.KerasLayer(
        "bn",
        {"gamma": 2 * one, "beta": 0.5 * one, "running_mean": 3 * one, "running_std": stored * one},
    )


def test_batchnorm_as_variance_and_as_std():
    # x = 7: (7 - 3) / sqrt(4 + 1e-6) * 2 + 0.5 = 4.5 ; (7 - 3) / (4 + 1e-6) * 2 + 0.5 = 2.5
    scale, shift = keras_h5.batchnorm_affine(_bn_layer(4.0), std_is_variance=True)
    assert 7 * scale[0] + shift[0] == pytest.approx(4.5, abs=1e-5)
    scale, shift = keras_h5.batchnorm_affine(_bn_layer(4.0), std_is_variance=False)
    assert 7 * scale[0] + shift[0] == pytest.approx(2.5, abs=1e-5)


def test_batchnorm_epsilon_is_keras1_default():
    scale, _ = keras_h5.batchnorm_affine(_bn_layer(0.0), std_is_variance=False)
    assert scale[0] == pytest.approx(2 / 1e-6, rel=1e-4)


def test_conv_kernel_is_cross_correlation_unless_flipped():
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    kernel[0, 0, 0, 0] = 1.0  # top-left tap
    layer = keras_h5.KerasLayer("conv1", {"W": kernel, "b": np.zeros(1, dtype=np.float32)})
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 2, 2] = 1.0
    weight, _ = keras_h5.conv2d_kernel(layer)
    out = F.conv2d(image, torch.from_numpy(weight), padding=1)
    assert out[0, 0, 3, 3] == 1.0  # cross-correlation: the top-left tap reads up-left
    flipped, _ = keras_h5.conv2d_kernel(layer, flip_kernel=True)
    out = F.conv2d(image, torch.from_numpy(flipped), padding=1)
    assert out[0, 0, 1, 1] == 1.0


def test_dense_is_transposed():
    w = np.arange(6, dtype=np.float32).reshape(2, 3)  # Keras (in=2, out=3)
    layer = keras_h5.KerasLayer("output", {"W": w, "b": np.array([1, 2, 3], dtype=np.float32)})
    weight, bias = keras_h5.dense(layer)
    x = np.array([1.0, -1.0], dtype=np.float32)
    np.testing.assert_allclose(x @ weight.T + bias, x @ w + bias)


def _keras1_gru_reference(x, gates):
    """Keras 1 GRU written out in numpy (keras/layers/recurrent.py, consume_less='cpu')."""

    def hard_sigmoid(v):
        return np.clip(0.2 * v + 0.5, 0, 1)

    h = np.zeros(gates["U_z"].shape[0])
    for x_t in x:
        z = hard_sigmoid(x_t @ gates["W_z"] + gates["b_z"] + h @ gates["U_z"])
        r = hard_sigmoid(x_t @ gates["W_r"] + gates["b_r"] + h @ gates["U_r"])
        hh = np.tanh(x_t @ gates["W_h"] + gates["b_h"] + (r * h) @ gates["U_h"])
        h = z * h + (1 - z) * hh
    return h


def test_gru_matches_keras1_equations(tmp_path, keras1_file):
    rng = np.random.default_rng(1)
    gates = {
        f"{k}_{g}": rng.normal(0, 0.8, shape).astype(np.float32)
        for g in "zrh"
        for k, shape in (("W", (4, 3)), ("U", (3, 3)), ("b", (3,)))
    }
    path = keras1_file(tmp_path / "g.h5", {"gru1": gates})
    layer = keras_h5.read_keras1_h5(path)["gru1"]
    module = choi.KerasGRU(4, 3)
    choi._set_gru(module, layer)
    x = rng.normal(0, 2, (7, 4)).astype(np.float32)  # large inputs reach the hard_sigmoid clip
    with torch.no_grad():
        last = module(torch.from_numpy(x)[None])[0, -1].numpy()
    np.testing.assert_allclose(last, _keras1_gru_reference(x, gates), atol=1e-5)
    assert not np.allclose(last, _torch_sigmoid_gru(x, gates), atol=1e-3)  # the gates matter


def _torch_sigmoid_gru(x, gates):
    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    h = np.zeros(3)
    for x_t in x:
        z = sigmoid(x_t @ gates["W_z"] + gates["b_z"] + h @ gates["U_z"])
        r = sigmoid(x_t @ gates["W_r"] + gates["b_r"] + h @ gates["U_r"])
        hh = np.tanh(x_t @ gates["W_h"] + gates["b_h"] + (r * h) @ gates["U_h"])
        h = z * h + (1 - z) * hh
    return h


def test_wrong_shapes_name_the_layer(tmp_path, keras1_file, random_choi):
    layers = random_choi("cnn")
    layers["conv2"]["W"] = layers["conv2"]["W"][:64]
    path = keras1_file(tmp_path / "bad.h5", layers)
    with pytest.raises(keras_h5.KerasFileError, match="conv2"):
        choi.load_cnn(path)
