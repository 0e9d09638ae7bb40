"""The one place a `--device` value becomes a `torch.device`, for every fuse command and API.

`auto` (and `None`, the API default) picks CUDA when it is there; an explicit CUDA device on a
machine without CUDA is an error that names the fix, not a traceback from the first `.to()`.
"""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    """A device that this machine does not have; the message names the fix."""


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DeviceError(
            f"--device {name!r} is not a device: use auto, cpu, cuda or cuda:N"
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"--device {name} asked for, but CUDA is not available; use --device cpu")
    return device
