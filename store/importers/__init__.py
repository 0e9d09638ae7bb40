"""Importers: published trailer-feature releases -> a cinefeat store, with labels and splits.

`import_release("movienet-sulun2024", "data/", "mn.zarr")` (or `cinefeat import FORMAT SOURCE
--store OUT`) reads a release in the layout its authors' code reads, writes each of its features
with provenance saying where it came from (release, record, file sha256, the authors' feature
name, the model as the paper states it), the release's labels and named splits, and returns an
`ImportSummary` of what was written and what was left out and why. Reruns add nothing twice.

Adding a format is adding a module here that registers a class in `IMPORTERS` (docs/importing.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.importers._common import (
    FeatureSpec,
    ImportSummary,
    ReleaseFormatError,
    Sample,
    write_samples,
)
from cinefeat.store.registry import Registry, import_submodules


class Importer(Protocol):
    """What a registered importer is: built with its options, then run on one release."""

    name: str

    def run(self, source: Path, store: FeatureStore, summary: ImportSummary) -> None: ...


IMPORTERS: Registry[Importer] = Registry("importer")


def import_release(
    format: str, source: str | Path, store: str | Path | FeatureStore, **options: Any
) -> ImportSummary:
    """Import the release at `source` (a folder or its main file) in `format` into `store`
    (a path: opened, or created when missing). `options` are the importer's (see `IMPORTERS`)."""
    importer = IMPORTERS.create(format, **options)
    source = Path(source)
    if not source.exists():
        raise ReleaseFormatError(f"{source} does not exist: give the release folder or file")
    created = not isinstance(store, FeatureStore) and not Path(store).exists()
    if not isinstance(store, FeatureStore):
        store = FeatureStore.open_or_create(store)
    summary = ImportSummary(format=format, source=str(source), store=str(store.path))
    try:
        importer.run(source, store, summary)
    except BaseException:
        store.refresh()
        if created and len(store) == 0:  # refused before writing: leave no empty store behind
            shutil.rmtree(store.path, ignore_errors=True)
        raise
    return summary


import_submodules(__name__, __path__, keep_going=False)

__all__ = [
    "IMPORTERS",
    "FeatureSpec",
    "ImportSummary",
    "Importer",
    "ReleaseFormatError",
    "Sample",
    "import_release",
    "write_samples",
]
