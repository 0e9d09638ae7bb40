"""Provenance of a feature: enough to tell whether two stores hold comparable numbers.

The writer completes what the extractor describes (model, weights sha256, layer, sampling) with
the cinefeat version and a config hash. The hash covers everything except the cinefeat version,
so a patch release that does not change the numbers does not make features look incompatible.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from typing import Any

# Keys whose mismatch makes two declarations of the same feature incompatible.
COMPATIBILITY_KEYS: tuple[str, ...] = ("dim", "dtype", "config_hash")
VOLATILE_KEYS: frozenset[str] = frozenset({"cinefeat_version", "config_hash"})


def cinefeat_version() -> str:
    try:
        return metadata.version("cinefeat")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def config_hash(provenance: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of `provenance` without the volatile keys."""
    stable = {k: v for k, v in provenance.items() if k not in VOLATILE_KEYS}
    text = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def complete_provenance(provenance: dict[str, Any], dim: int, dtype: str) -> dict[str, Any]:
    """The stored provenance: the extractor's description + dim, dtype, version and config hash.

    A `config_hash` given by the extractor is kept (it may hash more than it reports).
    """
    out = json.loads(json.dumps(dict(provenance), default=str))  # JSON-safe deep copy
    out["dim"] = int(dim)
    out["dtype"] = str(dtype)
    out["cinefeat_version"] = cinefeat_version()
    out.setdefault("config_hash", config_hash(out))
    return out


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences on the keys that matter (empty when compatible)."""
    return [
        f"{key}: {old.get(key)!r} != {new.get(key)!r}"
        for key in COMPATIBILITY_KEYS
        if old.get(key) != new.get(key)
    ]
