"""`HEADS`, `register_head`, `build_head`: heads by name, as the CLI and checkpoints name them."""

from __future__ import annotations

from typing import Any, TypeVar

from cinefeat.fuse.heads.base import FeatureSpec, Head, HeadConfig, HeadConfigError
from cinefeat.fuse.heads.presets import PRESETS, resolve
from cinefeat.store.registry import Registry

HEADS: Registry[Head] = Registry("head", unknown=HeadConfigError)

H = TypeVar("H", bound=type[Head])


def register_head(cls: H) -> H:
    if cls.name in HEADS:
        raise HeadConfigError(f"head name {cls.name!r} is registered twice")
    return HEADS.register(cls)


def build_head(
    name: str,
    features: list[FeatureSpec],
    label_names: list[str],
    config: HeadConfig | dict[str, Any] | None = None,
) -> Head:
    """A freshly initialised head; `config` may be a dict of overrides (strings are cast).

    `name` may be a preset (`mlp:sulun2024`): its options apply first, then `config`'s.
    """
    if ":" in name:
        if isinstance(config, HeadConfig):
            raise HeadConfigError(f"preset {name!r} takes option overrides, not a config object")
        name, config = resolve(name, config)
    cls = HEADS.get(name)
    if config is None:
        config = cls.config_class()
    elif isinstance(config, dict):
        config = cls.config_class().replace(**config)
    return cls(config, features, label_names)


def default_crop(name: str) -> str:
    """The training crop of head or preset `name` when `--crop` is not given: the preset's
    (`single-transformer:sulun2024` subsamples equidistantly, as Sulun et al.'s code), else the
    head config's default (`first`)."""
    base, options = resolve(name)
    return str(options.get("crop", HEADS.get(base).config_class().crop))


def head_choices() -> list[str]:
    """Every name `--arch` accepts: the heads, then the presets (`HEAD:PAPER`)."""
    return sorted(HEADS) + sorted(PRESETS)
