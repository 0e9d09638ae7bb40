"""Format signatures, on files written by the real producers (torch, safetensors, h5py)."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from cinefeat.extract.file_checks import content_problem


def _torch_zip(path):
    torch.save({"w": torch.zeros(3)}, path)
    return path


def _torch_legacy(path):
    torch.save({"w": torch.zeros(3)}, path, _use_new_zipfile_serialization=False)
    return path


def _safetensors(path):
    save_file({"w": torch.zeros(3)}, str(path))
    return path


def _keras_h5(path):
    with h5py.File(path, "w") as handle:
        handle.create_dataset("w", data=np.zeros(3))
    return path


def _hdf5_with_user_block(path):
    with h5py.File(path, "w", userblock_size=512) as handle:
        handle.create_dataset("w", data=np.zeros(3))
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("model.pth", _torch_zip),
        ("rgb_imagenet.pt", _torch_legacy),
        ("model.safetensors", _safetensors),
        ("weights.h5", _keras_h5),
        ("weights.h5", _hdf5_with_user_block),
    ],
)
def test_files_written_by_their_producers_pass(tmp_path, name, make):
    assert content_problem(make(tmp_path / name), name) is None


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("model.pth", b"<!DOCTYPE html><html>Sign in</html>", "HTML page"),
        ("model.safetensors", b"\n  <html><head></head></html>", "HTML page"),
        (
            "base.pt",
            b'<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code></Error>',
            "XML document",
        ),
        ("model.pth", b"Entry not found", "neither a zip nor a pickle"),
        ("weights.h5", b"\x00" * 2048, "no HDF5 signature"),
        ("config.json", b'{"hidden_size": 7', "not valid JSON"),
        ("model.pth", b"", "empty"),
    ],
)
def test_error_bodies_and_wrong_formats_are_named(tmp_path, name, body, reason):
    path = tmp_path / name
    path.write_bytes(body)
    problem = content_problem(path, name)
    assert problem is not None and reason in problem


def test_a_truncated_safetensors_file_is_refused(tmp_path):
    path = _safetensors(tmp_path / "model.safetensors")
    data = path.read_bytes()
    header = int.from_bytes(data[:8], "little")
    path.write_bytes(data[: header + 4])
    assert "header claims" in content_problem(path, "model.safetensors")
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"garbage!" * 4)
    assert "header is not JSON" in content_problem(path, "model.safetensors")


def test_ctranslate2_model_bin_is_not_judged_as_a_torch_pickle(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x06\x00\x00\x00" + bytes(100))  # CTranslate2's own binary layout
    assert content_problem(path, "model.bin", "ctranslate2-dir") is None
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(1)}, buffer)
    path.write_bytes(buffer.getvalue())
    assert content_problem(path, "pytorch_model.bin", "hf-transformers-dir") is None
