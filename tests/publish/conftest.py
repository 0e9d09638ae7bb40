"""Fixtures of the publishing tests: a small real store, its archive, a fake Zenodo, a client."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

TOKEN = "zen-TOKEN-s3cr3t-0123456789abcdef"


def _load_fake_module():
    """fake_zenodo.py beside this file (tests/ is not a package: importlib mode)."""
    name = "cinefeat_tests_fake_zenodo"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fake_zenodo.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def fake_zenodo():
    with _load_fake_module().FakeZenodo(TOKEN) as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(fake_zenodo, sleeps):
    from cinefeat.store.zenodo.client import ZenodoClient

    return ZenodoClient(
        TOKEN, fake_zenodo.api, backoff_s=0.001, sleep=sleeps.append, timeout_s=(5, 10)
    )


def make_store(path: Path, n_trailers: int = 6) -> Path:
    """A store with two features (float16 and float32), a failed trailer, labels and a split."""
    from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord

    rng = np.random.default_rng(7)
    store = FeatureStore.create(path)
    with store.writer(run="r1", worker="0") as writer:
        writer.declare_feature(
            "clip", provenance={"model": "ViT-B-32", "licence": "MIT"}, dim=8, dtype="float16"
        )
        writer.declare_feature("audio", provenance={"model": "panns-cnn14"}, dim=4, dtype="float32")
        for i in range(n_trailers):
            record = TrailerRecord(
                id=f"set/{i:03d}",
                source_path=f"/home/alice/private/{i:03d}.mp4",
                source_sha256=f"{i:064x}",
                duration_s=30.0 + i,
            )
            rows = i % 3  # includes zero-row trailers
            writer.add(
                record,
                features={
                    "clip": FeatureRows(rng.normal(size=(rows, 8)), np.zeros((rows, 2))),
                    "audio": FeatureRows(rng.normal(size=(2, 4)), [[0, 1], [1, 2]]),
                },
            )
        writer.add(TrailerRecord(id="set/failed", status="failed", stage="decode", error="x"))
    ids = [f"set/{i:03d}" for i in range(n_trailers)]
    store.set_labels(["Action", "Drama"], {tid: ["Drama"] for tid in ids[::2]})
    store.set_split("fold0", {"train": ids[:-2], "test": ids[-2:]})
    return path


@pytest.fixture(scope="session")
def store_path(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store") / "store")


@pytest.fixture(scope="session")
def built_archive(tmp_path_factory, store_path) -> Path:
    """A pristine archive folder; tests that modify an archive copy it first (`archive_dir`)."""
    from cinefeat.store.archive import build_archive

    out = tmp_path_factory.mktemp("archive") / "archive"
    build_archive(store_path, out, metadata=METADATA)
    return out


@pytest.fixture
def archive_dir(built_archive, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(built_archive, tmp_path / "archive"))


METADATA = {
    "title": "Test trailer features",
    "creators": [
        {"name": "Doe, Jane", "affiliation": "Test University", "orcid": "0000-0002-1825-0097"}
    ],
    "license": "cc-by-4.0",
    "keywords": ["movie trailers", "genre"],
    "version": "1.0",
    "related_identifiers": [{"identifier": "10.1234/paper", "relation": "isSupplementTo"}],
}


@pytest.fixture
def metadata() -> dict:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in METADATA.items()}
