"""Which extractor made the features a head was trained on, and whether new features match.

A head is only meaningful on features made the same way as its training features (same model,
weights, layer, sampling, dimension). Training records the store's provenance of every input
feature with the head (`features.json`); prediction compares it with the provenance of the
features it is given and refuses a mismatch, naming the feature and the keys that differ.

Every head, the zero-shot one included, keeps it in `head.provenance["features"][name]` (the
store's `provenance(name)`, saved in `features.json`).

The comparison trusts `config_hash` when both sides carry one (the store and
`Extractor.provenance()` compute it the same way, from everything but the cinefeat version);
otherwise it compares the keys both sides have. A head saved without provenance (built in Python,
not from a store) has nothing to compare and accepts anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cinefeat.fuse.data import DataError
from cinefeat.fuse.heads import Head
from cinefeat.store.provenance import is_old_style_hash

# Not part of how the numbers were made: a patch release, the hash itself, the storage dtype.
IGNORED_KEYS = frozenset({"cinefeat_version", "config_hash", "dtype"})


class ProvenanceMismatchError(DataError):
    """Features made differently from the head's training features; the message names them."""


def trained_provenance(head: Head) -> dict[str, dict[str, Any]]:
    """{feature: provenance} recorded when `head` was trained (empty dicts where unknown)."""
    recorded = (head.provenance or {}).get("features", {}) or {}
    return {name: dict(recorded.get(name) or {}) for name in head.feature_names}


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    shared = sorted((set(old) & set(new)) - IGNORED_KEYS)
    return [
        f"{key}: trained {old[key]!r}, given {new[key]!r}" for key in shared if old[key] != new[key]
    ]


def _comparable_hashes(old: object, new: object) -> bool:
    """Both sides carry a hash of the same definition (a head trained on a store written before
    the full hash holds a 16-hex one: its keys are compared instead)."""
    if not old or not new:
        return False
    return is_old_style_hash(old) == is_old_style_hash(new)


def provenance_mismatches(
    trained: Mapping[str, Mapping[str, Any]], given: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """One line per feature whose `given` provenance differs from the `trained` one."""
    problems = []
    for feature, old in trained.items():
        if not old:
            continue  # trained without a store: nothing recorded to compare
        new = given.get(feature)
        if new is None:
            problems.append(f"{feature}: no provenance given for this feature")
            continue
        differences = _differences(old, new)
        if _comparable_hashes(old.get("config_hash"), new.get("config_hash")):
            if old["config_hash"] != new["config_hash"]:
                problems.append(
                    f"{feature}: " + ("; ".join(differences) or "the configuration hash differs")
                )
        elif differences:
            problems.append(f"{feature}: " + "; ".join(differences))
    return problems


def check_feature_provenance(head: Any, given: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise `ProvenanceMismatchError` unless `given` {feature: provenance} matches the head's.

    `given` is what the features to predict on were made with: `store.provenance(name)` for a
    store, or `extractor.provenance()` for features extracted on the fly.
    """
    problems = provenance_mismatches(trained_provenance(head), given)
    if problems:
        raise ProvenanceMismatchError(
            "the features were not made like the head's training features:\n  "
            + "\n  ".join(problems)
            + "\nextract them with the extractors and settings recorded in the head's "
            "features.json, or use a head trained on these features"
        )
