"""Small shared pieces of running the ported networks: device/precision placement, safe loading.

Why here: every extractor places a model the same way (eval mode; half precision only where the
hardware runs it natively, see `half_dtype`) and loads
published PyTorch checkpoints the same safe way (`torch.load(weights_only=True)`, never a full
unpickle), so the rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cinefeat.extract.base import LoadError
from cinefeat.store.safe_pickle import PickleReadError, UnsafePickleError, numpy_globals, torch_load


class CheckpointError(LoadError, ValueError):
    """A checkpoint does not have the layout/keys the module expects (message names the file)."""


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bfloat16 matrix instructions (Intel AMX or AVX512-BF16, AMD Zen 4+),
    where oneDNN runs bf16 matmuls and convolutions natively (ViT-B/32: about 3x fp32 on AMX)."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def half_dtype(device: str) -> torch.dtype | None:
    """The reduced precision `fp16=True` means on `device`, or None (stay in fp32).

    CUDA: float16 (tensor cores). CPU: bfloat16 where the CPU has native bf16 instructions;
    without them bf16 and fp16 are emulated and slower than fp32, so the model stays in fp32.
    Embeddings move by about 1e-4 in cosine (CLIP ViT-B-32 in bf16 against fp32: cosine
    >= 0.9999), below the float16 rounding the store applies anyway.
    """
    if device.startswith("cuda"):
        return torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else None


def place(model: nn.Module, device: str, fp16: bool) -> tuple[nn.Module, bool]:
    """Eval mode on `device`, in half precision when asked and native there (`half_dtype`).

    Returns (model, whether it runs in half precision); feed it inputs through `cast_input`.
    """
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    dtype = half_dtype(device) if fp16 else None
    model = model.eval().to(device)
    if dtype is not None:
        model = model.to(dtype)
    return model, dtype is not None


def cast_input(tensor: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """`tensor` in the dtype of `model`'s weights (float16, bfloat16 or float32)."""
    weight = next(model.parameters(), None)
    return tensor if weight is None or tensor.dtype == weight.dtype else tensor.to(weight.dtype)


def load_torch_checkpoint(path: str | Path, allow_numpy: bool = False) -> Any:
    """`torch.load(weights_only=True)`: tensors, dicts, lists and numbers only, no code runs.

    `allow_numpy` also admits plain numpy arrays (some published files, e.g. torchvggish's PCA
    parameters, pickle numpy arrays); they are rebuilt by the restricted unpickler, not executed.
    The loading itself lives in `cinefeat.store.safe_pickle` (importers read pickles too).
    """
    try:
        return torch_load(path, allow_numpy=allow_numpy)
    except (UnsafePickleError, PickleReadError) as error:
        reason = error.__cause__ or error  # torch's own message names a refused global
        raise CheckpointError(
            f"{path} could not be loaded as a plain PyTorch checkpoint ({reason}); "
            "delete it and re-download the published file"
        ) from error


_numpy_globals = numpy_globals  # the name this module used to define it under


def load_state(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    path: str | Path,
    ignore_prefixes: tuple[str, ...] = (),
) -> None:
    """Strict load that names the file and the first missing/unexpected keys on mismatch."""
    kept = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
    result = module.load_state_dict(kept, strict=False)
    # BatchNorm's `num_batches_tracked` is training-only state that files saved before
    # PyTorch 0.4.1 (e.g. the I3D port's) do not have.
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"{path} does not match {type(module).__name__}: missing {missing[:4]}, "
            f"unexpected {result.unexpected_keys[:4]}; is it the published checkpoint?"
        )


def require_complete(info: Mapping[str, Any], folder: str | Path, model: str) -> None:
    """transformers only warns when a checkpoint lacks weights (they stay random): raise instead.

    Extra tensors (a classification head the feature extractor does not use) are fine.
    """
    missing = list(info.get("missing_keys", []))
    if missing:
        raise CheckpointError(
            f"{folder} lacks {len(missing)} {model} tensors ({missing[:3]}...): not the published "
            f"checkpoint for this extractor; re-download it with `cinefeat models download`"
        )


def batch_to_tensor(items: list[np.ndarray], device: str) -> torch.Tensor:
    """Equal-length 1-D float32 waveforms -> (B, samples) float32 tensor on `device`."""
    lengths = {item.shape for item in items}
    if len(lengths) != 1:
        raise ValueError(f"audio items in one batch must have equal length, got {sorted(lengths)}")
    return torch.from_numpy(np.stack(items).astype(np.float32, copy=False)).to(device)


class ClsToken(nn.Module):
    """A Hugging Face vision transformer -> the CLS token of its last hidden state."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixels).last_hidden_state[:, 0]


def square_crop(frames: np.ndarray, size: int, shrink: bool = True) -> np.ndarray:
    """Centre square crop of an (H, W, 3) frame or (T, H, W, 3) clip whose short side is `size`.

    The decoder already resized to that short side; a frame of another size (a direct caller) is
    resized here with bicubic interpolation first. `shrink=False` crops a larger frame without
    resizing (I3D's Kinetics protocol: short side 256, centre crop 224).
    """
    if frames.ndim not in (3, 4) or frames.shape[-1] != 3:
        raise ValueError(f"expected (H, W, 3) frames or (T, H, W, 3) clips, got {frames.shape}")
    height, width = frames.shape[-3:-1]
    if min(height, width) < size or (shrink and min(height, width) != size):
        frames = _resize_short_side(frames, size)
        height, width = frames.shape[-3:-1]
    top, left = (height - size) // 2, (width - size) // 2
    return frames[..., top : top + size, left : left + size, :]


def _resize_short_side(frames: np.ndarray, size: int) -> np.ndarray:
    import cv2

    height, width = frames.shape[-3:-1]
    scale = size / min(height, width)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    if frames.ndim == 3:
        return cv2.resize(frames, new, interpolation=cv2.INTER_CUBIC)
    return np.stack([cv2.resize(f, new, interpolation=cv2.INTER_CUBIC) for f in frames])
