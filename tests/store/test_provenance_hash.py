"""The one provenance hash (issue 16, item 3): what the spec states, recomputed by validate, and
stores written with the old 16-hex hash still read and extend."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from store_testkit import rows_for

from cinefeat.store import FeatureStore, TrailerRecord
from cinefeat.store.errors import FeatureDeclarationError
from cinefeat.store.provenance import complete_provenance
from cinefeat.store.validate import validate

SCENES = {
    "extractor": "colorhist",
    "sampling": {"sampler": "scene-middle", "scene_detector": "content"},
}


def _store(tmp_path: Path) -> FeatureStore:
    store = FeatureStore.create(tmp_path / "s")
    with store.writer(run="r") as writer:
        writer.declare_feature("hist", provenance=SCENES, dim=8)
        writer.add(TrailerRecord(id="t0"), {"hist": rows_for(0, 3, 8)})
    return store


def test_the_hash_is_what_the_spec_says() -> None:
    full = complete_provenance({**SCENES, "config_hash": "given by a caller"}, 8, "float16")
    # docs/store-format.md, "Provenance hash", written out by hand
    stable = {
        k: v for k, v in full.items() if k not in ("cinefeat_version", "config_hash", "dtype")
    }
    text = json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert full["config_hash"] == hashlib.sha256(text.encode()).hexdigest()
    other = complete_provenance({**SCENES, "sampling": {"sampler": "scene-middle"}}, 8, "float16")
    assert other["config_hash"] != full["config_hash"]  # the scene detector is covered


def test_another_scene_detector_is_refused_naming_the_field(tmp_path: Path) -> None:
    store = _store(tmp_path)
    adaptive = {**SCENES, "sampling": {"sampler": "scene-middle", "scene_detector": "adaptive"}}
    expected = re.escape("sampling.scene_detector: 'content' != 'adaptive'")
    with (
        store.writer(run="again") as writer,
        pytest.raises(FeatureDeclarationError, match=expected),
    ):
        writer.declare_feature("hist", provenance=adaptive, dim=8)


def test_an_old_style_hash_is_a_warning_and_the_store_still_extends(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (meta_path,) = store.path.glob("parts/*/features/hist/zarr.json")
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["provenance"]["config_hash"] = "0123456789abcdef"  # cinefeat 0.1
    meta_path.write_text(json.dumps(meta))
    report = validate(FeatureStore.open(store.path))
    assert report.ok
    assert [(p.kind, p.severity) for p in report.problems] == [("provenance-hash", "warning")]
    assert "old-style" in report.problems[0].message
    reopened = FeatureStore.open(store.path)
    with reopened.writer(run="again") as writer:  # same settings: accepted despite the old hash
        writer.declare_feature("hist", provenance=SCENES, dim=8)
        writer.add(TrailerRecord(id="t1"), {"hist": rows_for(1, 2, 8)})
    report = validate(FeatureStore.open(store.path))
    assert report.ok and [p.kind for p in report.problems] == ["provenance-hash"]


def test_an_edited_hash_is_an_error(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (meta_path,) = store.path.glob("parts/*/features/hist/zarr.json")
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["provenance"]["config_hash"] = "f" * 64
    meta_path.write_text(json.dumps(meta))
    report = validate(FeatureStore.open(store.path))
    assert not report.ok and [p.kind for p in report.problems] == ["provenance-hash"]
