"""`--option NAME.KEY=VALUE` parsing: extractor config overrides from the command line.

Why one flag for all extractors: each extractor's options are its config dataclass fields, so the
CLI need not change when an extractor gains an option; values are parsed as YAML scalars
(`true`, `3`, `0.5`, `ViT-B-16`), the way PySceneDetect's config mirrors its constructor arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import yaml

from cinefeat.extract.base import Registry
from cinefeat.store.errors import CinefeatError


class OptionError(CinefeatError, ValueError):
    """A malformed or unknown `--option` (message lists the valid keys)."""


def parse_options(
    texts: Iterable[str], registry: Registry, features: list[str]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        name, dot, field_name = key.partition(".")
        if not sep or not dot or not field_name:
            raise OptionError(
                f"--option expects FEATURE.KEY=VALUE (e.g. clip.model=ViT-B-16), got {text!r}"
            )
        if name not in features:
            raise OptionError(
                f"--option {text!r}: feature {name!r} is not in --features ({','.join(features)})"
            )
        config_class = registry.entries[name].config_class
        valid = [f.name for f in dataclasses.fields(config_class)]
        if field_name not in valid:
            raise OptionError(
                f"--option {text!r}: {name} has no option {field_name!r}; valid: "
                f"{', '.join(valid) or '(none)'}"
            )
        value = yaml.safe_load(raw) if raw else ""
        out.setdefault(name, {})[field_name] = value
    return out
