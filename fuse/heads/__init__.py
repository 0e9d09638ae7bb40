"""The head registry: `HEADS[name]` is a `Head` subclass with its config dataclass.

`cinefeat train --arch NAME` and `--help` list the choices from this registry; adding a head is
adding one module with `@register_head` to this package (its modules are discovered, as the
extractors' are; a head module that fails to import fails loudly).
"""

from __future__ import annotations

from typing import Any

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, HeadConfigError
from cinefeat.fuse.heads.presets import PRESETS
from cinefeat.fuse.heads.registry import (
    HEADS,
    build_head,
    default_crop,
    head_choices,
    register_head,
)
from cinefeat.store.registry import import_submodules

import_submodules(__name__, __path__, keep_going=False)  # importing a head module registers it

__all__ = [
    "HEADS",
    "PRESETS",
    "FeatureSpec",
    "Head",
    "HeadConfig",
    "HeadConfigError",
    "build_head",
    "default_crop",
    "head_choices",
    "register_head",
]


def head_names() -> list[str]:
    return sorted(HEADS)


def describe(name: str) -> dict[str, Any]:
    """The default configuration of a head (for `--help` and the docs)."""
    return HEADS[name].config_class().to_dict()
