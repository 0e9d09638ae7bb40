"""The one place a `--device` value becomes a `torch.device`, for every fuse command and API.

The meaning of a device name (`auto` and `None` pick CUDA when it is there; an explicit CUDA device
on a machine without CUDA is an error that names the fix) is `cinefeat.store.cli_options`'s, the
same for extract: this module only turns its answer into a `torch.device`.
"""

from __future__ import annotations

import torch

from cinefeat.store.cli_options import DeviceError
from cinefeat.store.cli_options import resolve_device as resolve_device_name

__all__ = ["DeviceError", "resolve_device"]


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    if isinstance(name, torch.device):
        name = str(name)
    return torch.device(resolve_device_name(name))
