"""The head registry: `HEADS[name]` is a `Head` subclass with its config dataclass.

`cinefeat train --head NAME` and `--help` list the choices from this registry; adding a head is
one module with `@register_head` imported below.
"""

from __future__ import annotations

from typing import Any

# Importing a head module registers it.
from cinefeat.fuse.heads import (  # noqa: F401
    clip_aggregation,
    frame_mlp_fusion,
    gated,
    gmu,
    hierarchical,
    mlp,
    multi_transformer,
    single_transformer,
)
from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, HeadConfigError
from cinefeat.fuse.heads.presets import PRESETS
from cinefeat.fuse.heads.registry import HEADS, build_head, head_choices, register_head

__all__ = [
    "HEADS",
    "PRESETS",
    "FeatureSpec",
    "Head",
    "HeadConfig",
    "HeadConfigError",
    "build_head",
    "head_choices",
    "register_head",
]


def head_names() -> list[str]:
    return sorted(HEADS)


def describe(name: str) -> dict[str, Any]:
    """The default configuration of a head (for `--help` and the docs)."""
    return HEADS[name].config_class().to_dict()
