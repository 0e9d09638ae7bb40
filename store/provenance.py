"""Provenance of a feature: enough to tell whether two stores hold comparable numbers.

The writer completes what the extractor describes (model, weights sha256, layer, sampling, and
the scene detector where frames depend on scenes) with dim, dtype, the cinefeat version and the
config hash. There is one hash function, `provenance_hash`, used by the extractor, the writer and
`validate`, so the hash a store records is the one anyone can recompute from its provenance
(docs/store-format.md, "Provenance hash"). It leaves out what does not change how the numbers
were made: the cinefeat version (a patch release must not make features look incompatible), the
storage dtype (compared on its own, as heads ignore it) and the hash itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata
from typing import Any

# Keys whose mismatch makes two declarations of the same feature incompatible.
COMPATIBILITY_KEYS: tuple[str, ...] = ("dim", "dtype", "config_hash")
# Keys the hash leaves out.
VOLATILE_KEYS: frozenset[str] = frozenset({"cinefeat_version", "config_hash", "dtype"})
# cinefeat < 0.2 stored 16 hex digits over the extractor's keys only (no scene detector).
_OLD_STYLE = re.compile(r"[0-9a-f]{16}")


def cinefeat_version() -> str:
    try:
        return metadata.version("cinefeat")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def canonical_json(provenance: dict[str, Any]) -> str:
    """The text the hash covers: JSON with sorted keys, no spaces, ASCII escapes, volatile keys
    left out (at the top level only)."""
    stable = {k: v for k, v in provenance.items() if k not in VOLATILE_KEYS}
    return json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def provenance_hash(provenance: dict[str, Any]) -> str:
    """Full sha256 hex digest of `canonical_json(provenance)` encoded as UTF-8."""
    return hashlib.sha256(canonical_json(provenance).encode("utf-8")).hexdigest()


def is_old_style_hash(value: object) -> bool:
    """True for the 16-hex hash of stores written before the hash covered all provenance."""
    return isinstance(value, str) and _OLD_STYLE.fullmatch(value) is not None


def hash_problem(provenance: dict[str, Any]) -> tuple[str, str] | None:
    """("error" | "warning", message) when the stored `config_hash` is not the recomputed one."""
    stored = provenance.get("config_hash")
    expected = provenance_hash(provenance)
    if stored == expected:
        return None
    if is_old_style_hash(stored):
        return (
            "warning",
            f"old-style config_hash {stored!r} (16 hex digits over part of the provenance); the "
            f"full hash of this provenance is {expected}: cinefeat compares the provenance "
            "itself, not this hash",
        )
    return (
        "error",
        f"config_hash {stored!r} is not the sha256 of the stored provenance ({expected}): the "
        "provenance was edited after writing, or written by another tool",
    )


def complete_provenance(provenance: dict[str, Any], dim: int, dtype: str) -> dict[str, Any]:
    """The stored provenance: the extractor's description + dim, dtype, version and the hash,
    computed here once over the complete provenance (any hash the caller gave is replaced)."""
    out = json.loads(json.dumps(dict(provenance), default=str))  # JSON-safe deep copy
    out["dim"] = int(dim)
    out["dtype"] = str(dtype)
    out["cinefeat_version"] = cinefeat_version()
    out["config_hash"] = provenance_hash(out)
    return out


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys (e.g. `sampling.scene_detector`) whose values differ, volatile keys aside."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if not prefix and key in VOLATILE_KEYS:
                continue
            name = f"{prefix}{key}"
            if key not in old or key not in new:
                out.append(f"{name}: {old.get(key)!r} != {new.get(key)!r}")
            else:
                out += differences(old[key], new[key], f"{name}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} != {new!r}"]


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences that make `new` rows not comparable with `old` ones.

    The hashes are recomputed from the provenance (a store written before the full hash keeps a
    16-hex one), and a differing hash is explained by the fields that differ.
    """
    out = [
        f"{key}: {old.get(key)!r} != {new.get(key)!r}"
        for key in ("dim", "dtype")
        if old.get(key) != new.get(key)
    ]
    if provenance_hash(old) != provenance_hash(new):
        fields = [d for d in differences(old, new) if not d.startswith(("dim:", "dim.", "dtype"))]
        out += fields or ["config_hash differs"]
    return out
