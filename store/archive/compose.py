"""`open_archive`: read an archive folder (per-feature zips + metadata) as one store.

An archive splits a store into one zip per feature (or per chosen group of features) so users
download only what they need. This module puts the pieces back together behind the read side of
the `FeatureStore` API: records, labels and splits come from `metadata.zip`, each feature from its
zip (read in place, random access, no extraction) or from the folder `extract_archive` made of it.
Features whose zip was not downloaded are simply absent. `FeatureStore.open(folder)` on an archive
folder returns this same object, so every component that opens a store reads archives too.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cinefeat.store.archive.build import METADATA_ZIP
from cinefeat.store.archive.errors import ArchiveError, ChecksumMismatch
from cinefeat.store.archive.manifest import MANIFEST_NAME, Manifest, ManifestEntry, verify_file
from cinefeat.store.archive.safe_zip import check_zip_members, safe_extract
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.index import StoreIndex
from cinefeat.store.rows import FeatureRows

Verify = Literal["none", "size", "full"]


def entry_features(entry: ManifestEntry) -> list[str]:
    """The store features held by one manifest entry's zip (none for metadata and text files)."""
    if entry.kind != "feature":
        return []
    if entry.features:
        return list(entry.features)
    return [entry.feature] if entry.feature else []


class ArchiveStore(FeatureStore):
    """Read-only union of the stores of an archive folder (the read API of FeatureStore).

    Trailers, records, labels and splits are those of `metadata.zip`; writing raises
    `ReadOnlyStoreError` like any read-only store.
    """

    def __init__(self, path: Path, manifest: Manifest, metadata: Any, features: dict[str, Any]):
        super().__init__(path, metadata.root, read_only=True)
        self.manifest = manifest
        self.metadata = metadata
        self.feature_stores = features

    def __repr__(self) -> str:
        return f"ArchiveStore({str(self.path)!r}, features={self.features()})"

    @property
    def index(self) -> StoreIndex:
        return self.metadata.index

    def refresh(self) -> None:
        self.metadata.refresh()
        for store in self.stores():
            store.refresh()

    def stores(self) -> list[Any]:
        """The distinct stores of the downloaded feature zips (a group zip holds several)."""
        out: list[Any] = []
        for store in self.feature_stores.values():
            if not any(store is seen for seen in out):
                out.append(store)
        return out

    def feature_index(self, feature: str) -> StoreIndex:
        return self._store(feature).index

    def _store(self, feature: str) -> Any:
        store = self.feature_stores.get(feature)
        if store is None:
            listed = sorted(f for e in self.manifest.files for f in entry_features(e))
            hint = (
                f"its zip was not downloaded: run `cinefeat fetch` again for {self.path}"
                if feature in listed
                else f"the archive has {listed}"
            )
            raise KeyError(f"feature {feature!r} is not available in {self.path}: {hint}")
        return store

    # -- trailers, labels, splits (metadata.zip) --------------------------------------------------

    def ids(self, status: str | None = None) -> list[str]:
        return self.metadata.ids(status=status)

    def record(self, trailer_id: str) -> Any:
        return self.metadata.record(trailer_id)

    def labels(self) -> tuple[list[str], dict[str, np.ndarray]]:
        return self.metadata.labels()

    def splits(self) -> dict[str, dict[str, list[str]]]:
        return self.metadata.splits()

    def __contains__(self, trailer_id: object) -> bool:
        return trailer_id in self.metadata

    def __len__(self) -> int:
        return len(self.metadata)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    # -- features (one zip each) ------------------------------------------------------------------

    def features(self) -> list[str]:
        return sorted(self.feature_stores)

    def provenance(self, feature: str) -> dict[str, Any]:
        return self._store(feature).provenance(feature)

    def has(self, trailer_id: str, feature: str) -> bool:
        return feature in self.feature_stores and self._store(feature).has(trailer_id, feature)

    def committed(self, feature: str) -> set[str]:
        return self._store(feature).committed(feature)

    def lengths(self, feature: str) -> dict[str, int]:
        return self._store(feature).lengths(feature)

    def get(self, trailer_id: str, feature: str) -> FeatureRows:
        return self._store(feature).get(trailer_id, feature)

    def texts(self, trailer_id: str, feature: str) -> list[dict[str, Any]]:
        return self._store(feature).texts(trailer_id, feature)

    def load_feature(
        self, feature: str, verify: bool = True
    ) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
        return self._store(feature).load_feature(feature, verify=verify)

    def __getitem__(self, trailer_id: str) -> dict[str, FeatureRows]:
        if trailer_id not in self.metadata:
            raise KeyError(f"trailer {trailer_id!r} is not in {self.path}")
        return {f: self.get(trailer_id, f) for f in self.features() if self.has(trailer_id, f)}


def _locate(folder: Path, name: str) -> Path | None:
    """The zip itself, or the folder `extract_archive` made of it, or None when absent."""
    if (folder / name).is_file():
        return folder / name
    extracted = folder / Path(name).stem
    return extracted if extracted.is_dir() else None


def open_archive(folder: str | Path, verify: Verify = "size") -> ArchiveStore:
    """Open an archive folder as one read-only store.

    `verify`: "full" hashes every present zip against MANIFEST.json (minutes for large archives;
    `cinefeat fetch` already did it), "size" compares sizes only, "none" trusts the files.
    """
    folder = Path(folder)
    manifest = Manifest.read(folder)
    opened: dict[str, Any] = {}
    metadata = None
    for entry in manifest.files:
        if not entry.name.endswith(".zip"):
            continue
        location = _locate(folder, entry.name)
        if location is None:
            if entry.kind == "metadata":
                raise ArchiveError(
                    f"{folder / entry.name} is missing: it holds the trailer records and labels; "
                    "download it (`cinefeat fetch` resumes)"
                )
            continue
        if location.is_file() and verify == "full":
            verify_file(location, entry)
        elif location.is_file() and verify == "size" and location.stat().st_size != entry.size:
            raise ChecksumMismatch(
                f"{location} has {location.stat().st_size} bytes but the manifest says "
                f"{entry.size}: the download is incomplete; run `cinefeat fetch` again"
            )
        if location.is_file():  # before anything is read from it: no compressed members
            check_zip_members(location, entry if verify != "none" else None)
        store = FeatureStore.open(location, read_only=True)
        if entry.kind == "metadata":
            metadata = store
        for feature in entry_features(entry):
            opened[feature] = store
    if metadata is None:
        raise ArchiveError(f"{MANIFEST_NAME} in {folder} lists no {METADATA_ZIP}: not an archive")
    return ArchiveStore(folder, manifest, metadata, opened)


def extract_archive(folder: str | Path, target: str | Path) -> Path:
    """Safely extract each zip of `folder` into `target/<zip stem>/`, verified by the manifest.

    The result opens with `open_archive(target)` like the zips did. Useful when a filesystem or
    tool prefers plain files; reading the zips in place is as fast with plain row chunks.
    """
    folder, target = Path(folder), Path(target)
    manifest = Manifest.read(folder)
    if target.exists() and any(target.iterdir()):
        raise ArchiveError(f"{target} is not empty: extract into a new folder")
    target.mkdir(parents=True, exist_ok=True)
    for entry in manifest.files:
        source = folder / entry.name
        if entry.name.endswith(".zip"):
            if source.is_file():
                safe_extract(source, target / Path(entry.name).stem, entry)
        else:
            verify_file(source, entry)
            shutil.copyfile(source, target / entry.name)
    shutil.copyfile(folder / MANIFEST_NAME, target / MANIFEST_NAME)
    return target
