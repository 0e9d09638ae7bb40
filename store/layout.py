"""Names and defaults of the on-disk format (specified in docs/store-format.md).

Everything the reader and writer agree on lives here: group and array names, the format
version, chunk sizes, and how a root (directory or `.zip`) is opened. Change this file together
with docs/store-format.md and bump `FORMAT_VERSION` when the meaning of anything changes.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import zarr
import zarr.storage

from cinefeat.store.errors import NotAStoreError, StoreFormatError

FORMAT_NAME = "cinefeat-store"
FORMAT_VERSION = 1
ROOT_ATTR = "cinefeat_store"  # root group attribute: {"format": ..., "format_version": ...}

PARTS = "parts"
TRAILERS = "trailers"
FEATURES = "features"
LABELS = "labels"
SPLITS = "splits"

# per-part arrays under trailers/
TRAILER_IDS = "ids"
TRAILER_RECORDS = "records"
TRAILER_STATUS = "status"
TRAILER_COMMITTED_AT = "committed_at"
# per-feature arrays under features/<name>/
VALUES = "values"
SPANS = "spans"
ENTRY_IDS = "ids"
OFFSETS = "offsets"
DIGESTS = "digests"  # (entries, 2) uint32: crc32 of each entry's values and spans bytes
TEXTS = "texts"

PART_ATTR = "part"  # {"run", "worker", "created", "host", "pid", optional "config"/"runs"}
COMMIT_ATTR = "commit"  # {"sequence", "time", "trailers", "features": {name: {"entries", "rows"}}}
PROVENANCE_ATTR = "provenance"
LABEL_NAMES_ATTR = "label_names"

# ~256 KiB chunks of 512-d float16 rows: one trailer touches 1-2 chunks on a random read.
DEFAULT_ROW_CHUNK = 256
INDEX_CHUNK = 4096  # per-trailer index arrays (ids, offsets, records)
VALUE_DTYPES = ("float16", "float32")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_name(kind: str, name: str) -> str:
    """Feature, run, worker and split names become path components: keep them portable."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{kind} name {name!r} is not allowed: use letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit)"
        )
    return name


def row_chunk_for(dim: int, target_bytes: int = 256 * 1024, itemsize: int = 2) -> int:
    """Rows per chunk so a chunk is about `target_bytes` (at least 16 rows)."""
    return max(16, target_bytes // max(1, dim * itemsize))


ARCHIVE_MANIFEST = "MANIFEST.json"  # marks a feature archive folder (store/archive/)


def is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def is_archive_folder(path: Path) -> bool:
    """A folder written by `cinefeat archive` or `fetch` (zips + MANIFEST.json), not a store."""
    return (
        path.is_dir() and not (path / "zarr.json").is_file() and (path / ARCHIVE_MANIFEST).is_file()
    )


def open_root(path: Path, mode: str) -> zarr.Group:
    """Open the root group of a store directory (`mode` "r" or "a") or a `.zip` archive ("r").

    Always with `use_consolidated=False`: a `zarr.consolidate_metadata()` snapshot in the root
    `zarr.json` is never updated by writers, so trusting it would hide every part, feature and
    compaction made after it (`cinefeat store validate` warns about such a snapshot).
    """
    if is_zip(path):
        if not path.is_file():
            raise NotAStoreError(f"{path} does not exist: give the path of a store .zip archive")
        _check_zip_root(path)
        zip_store = zarr.storage.ZipStore(path, mode="r")
        return _checked(_open(zip_store, "r", path / "zarr.json"), path)
    if not (path / "zarr.json").is_file():
        raise NotAStoreError(
            f"{path} is not a cinefeat store (no zarr.json): create one with "
            "FeatureStore.create(path) or `cinefeat extract ... --store PATH`"
        )
    return _checked(_open(str(path), mode, path / "zarr.json"), path)


def _check_zip_root(path: Path) -> None:
    """Refuse a zip whose store is not at its root, saying how to make one that is.

    `zip -r s.zip s` stores every key under `s/` (the usual way to zip a folder); zarr then
    finds no root group and the error would blame damaged metadata.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise NotAStoreError(f"{path} is not a readable zip file ({error})") from None
    if "zarr.json" in names:
        return
    nested = sorted((n for n in names if n.endswith("/zarr.json")), key=lambda n: (n.count("/"), n))
    if nested:
        folder = nested[0][: -len("zarr.json")]
        raise NotAStoreError(
            f"{path} holds the store inside the folder {folder!r}, not at the zip's root (a zip "
            f"made with `zip -r {path.name} {folder.rstrip('/')}`): zip the folder's contents "
            f"instead (`cd {folder.rstrip('/')} && zip -r -0 ../{path.name} .`), or use the "
            "store directory itself"
        )
    raise NotAStoreError(
        f"{path} has no zarr.json at its root: it is not a zipped cinefeat store (zip a store "
        "directory's contents, or use `cinefeat archive` for a feature archive)"
    )


def _open(store: Any, mode: str, metadata: Path) -> zarr.Group:
    try:
        return zarr.open_group(store=store, mode=mode, use_consolidated=False)  # type: ignore[arg-type]
    except Exception as error:  # a half-written or edited zarr.json: JSON or schema errors
        raise StoreFormatError(
            f"{metadata} cannot be read ({type(error).__name__}: {error}): the store's root "
            "metadata is damaged; restore it from a backup"
        ) from error


def _checked(root: zarr.Group, path: Path) -> zarr.Group:
    info: Any = root.attrs.get(ROOT_ATTR)
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise NotAStoreError(
            f"{path} is a zarr group but not a cinefeat store (no '{ROOT_ATTR}' attribute): "
            "pick another path or create a new store"
        )
    version = info.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StoreFormatError(
            f"{path} uses store format version {version!r}; this cinefeat reads up to "
            f"{FORMAT_VERSION}: upgrade cinefeat (pip install -U cinefeat)"
        )
    return root


def dense(array: zarr.Array) -> zarr.Array:
    """The same array, writing chunks even when they equal the fill value.

    zarr skips all-fill chunks by default, which would make a legitimately all-zero chunk look
    exactly like a lost one; writing them lets `validate` treat every absent chunk as missing.
    """
    return array.with_config({"write_empty_chunks": True})
