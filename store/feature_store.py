"""`FeatureStore`: open, write and read a cinefeat feature store (contract: docs/contracts.md).

A store is one zarr v3 group (a directory, or a `.zip` of one, read-only). Writers append to
their own parts (see `writer.py`); this class reads the union of committed parts through an
in-memory index (see `index.py`) that is rebuilt after every commit made through it, or on
`refresh()` to see other processes' commits.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.errors import ContainsGroupError

from cinefeat.store import layout as L
from cinefeat.store.errors import LabelError, NotAStoreError, ReadOnlyStoreError
from cinefeat.store.index import StoreIndex
from cinefeat.store.labels import (
    merge_labels,
    read_labels,
    read_splits,
    write_labels,
    write_split,
)
from cinefeat.store.provenance import cinefeat_version
from cinefeat.store.record import TrailerRecord
from cinefeat.store.rows import FeatureRows
from cinefeat.store.textcodec import decode_texts
from cinefeat.store.writer import StoreWriter


class FeatureStore:
    """A feature store on disk. Build it with `create`, `open` or `open_or_create`."""

    def __init__(self, path: Path, root: zarr.Group, read_only: bool) -> None:
        self.path = path
        self.root = root
        self.read_only = read_only
        self._index: StoreIndex | None = None

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path) -> FeatureStore:
        """A new empty store at `path` (an existing store there is opened, not overwritten)."""
        path = Path(path)
        if L.is_zip(path):
            raise ReadOnlyStoreError(
                f"{path}: .zip stores are read-only archives; create a directory store and "
                "archive it once complete"
            )
        if (path / "zarr.json").is_file():
            return cls.open(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise NotAStoreError(
                f"{path} exists and is not a cinefeat store: choose a new path or an empty folder"
            )
        path.mkdir(parents=True, exist_ok=True)
        info = {
            "format": L.FORMAT_NAME,
            "format_version": L.FORMAT_VERSION,
            "created": time.time(),
            "created_by": f"cinefeat {cinefeat_version()}",
        }
        # metadata and attributes in one atomic write: a process racing to open sees either no
        # store or a complete one
        try:
            root = zarr.create_group(store=str(path), attributes={L.ROOT_ATTR: info})
        except ContainsGroupError:
            return cls.open(path)
        with contextlib.suppress(ContainsGroupError):  # another process created it first
            root.create_group(L.PARTS)
        return cls(path, L.open_root(path, "r+"), read_only=False)

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> FeatureStore:
        """An existing store: a directory (writable unless `read_only`), a `.zip` (read-only), or
        a feature archive folder (`cinefeat archive` / `cinefeat fetch`: its zips or their
        extraction, read-only, sizes checked against MANIFEST.json; see `open_archive`)."""
        path = Path(path)
        if L.is_archive_folder(path):
            from cinefeat.store.archive.compose import open_archive

            return open_archive(path)
        read_only = read_only or L.is_zip(path)
        return cls(path, L.open_root(path, "r" if read_only else "r+"), read_only)

    @classmethod
    def open_or_create(cls, path: str | Path) -> FeatureStore:
        path = Path(path)
        if L.is_zip(path) or (path / "zarr.json").is_file() or L.is_archive_folder(path):
            return cls.open(path)
        return cls.create(path)

    def __repr__(self) -> str:
        index = self.index
        return (
            f"FeatureStore({str(self.path)!r}, trailers={len(index.trailers)}, "
            f"features={index.feature_names()}, parts={len(index.parts)})"
        )

    def writable_root(self) -> zarr.Group:
        if self.read_only:
            raise ReadOnlyStoreError(
                f"{self.path} is open read-only: open the store directory (not a .zip) "
                "without read_only=True to write"
            )
        return self.root

    # -- the index -------------------------------------------------------------------------------

    @property
    def index(self) -> StoreIndex:
        if self._index is None:
            self._index = StoreIndex.build(self.root)
        return self._index

    def refresh(self) -> None:
        """Forget the cached index: the next read sees every part committed so far."""
        self._index = None

    def run_configs(self) -> dict[str, dict[str, Any]]:
        """{run id: the effective settings it recorded} (`cinefeat extract` records them)."""
        from cinefeat.store.index import run_configs

        return run_configs(part.info for part in self.index.parts)

    def parts(self) -> list[str]:
        return [p.name for p in self.index.parts]

    def feature_index(self, feature: str) -> StoreIndex:
        """The index holding `feature`'s rows (the store's own; one zip's in an archive)."""
        return self.index

    # -- writing ---------------------------------------------------------------------------------

    def writer(
        self, run: str, worker: str = "0", part: str | None = None, **options: Any
    ) -> StoreWriter:
        """A writer into a new part `<run>-<worker>-<pid>-<uid>` (or exactly `part`).

        `options`: `commit_every`, `commit_interval_s`, `lease_interval_s` (see `StoreWriter`).
        """
        return StoreWriter(self, run=run, worker=worker, part=part, **options)

    # -- trailers --------------------------------------------------------------------------------

    def ids(self, status: str | None = None) -> list[str]:
        """Sorted ids of all trailers with a committed record (optionally with that status)."""
        index = self.index
        if status is None:
            return sorted(index.trailers)
        return sorted(
            tid
            for tid, (part, pos) in index.trailers.items()
            if index.parts[part].status[pos] == status
        )

    def __contains__(self, trailer_id: object) -> bool:
        return trailer_id in self.index.trailers

    def __len__(self) -> int:
        return len(self.index.trailers)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def record(self, trailer_id: str) -> TrailerRecord:
        """The last committed record of `trailer_id` (KeyError if none)."""
        loc = self.index.trailers.get(trailer_id)
        if loc is None:
            raise KeyError(f"trailer {trailer_id!r} has no committed record in {self.path}")
        part, pos = loc
        return self.index.parts[part].record(pos)

    # -- features --------------------------------------------------------------------------------

    def features(self) -> list[str]:
        return self.index.feature_names()

    def provenance(self, feature: str) -> dict[str, Any]:
        """Provenance of `feature` as first declared in the store."""
        for _, fpart in self.index.feature_parts(feature):
            return dict(fpart.provenance)
        raise KeyError(self._unknown_feature(feature))

    def _unknown_feature(self, feature: str) -> str:
        return (
            f"feature {feature!r} is not in {self.path} (it has {self.features()}): "
            "extract it first with `cinefeat extract`"
        )

    def has(self, trailer_id: str, feature: str) -> bool:
        """True when rows (possibly zero) of `feature` are committed for `trailer_id`."""
        return trailer_id in self.index.feature(feature)

    def committed(self, feature: str) -> set[str]:
        return set(self.index.feature(feature))

    def lengths(self, feature: str) -> dict[str, int]:
        index = self.index
        out: dict[str, int] = {}
        for _, fpart in index.feature_parts(feature):
            fpart.require_intact()
        for tid, (part, pos) in index.feature(feature).items():
            start, stop = index.parts[part].features[feature].offsets[pos]
            out[tid] = int(stop - start)
        return out

    def get(self, trailer_id: str, feature: str) -> FeatureRows:
        """The rows of one (trailer, feature): one slice of values and spans."""
        index = self.index
        loc = index.feature(feature).get(trailer_id)
        if loc is None:
            if feature not in self.features():
                raise KeyError(self._unknown_feature(feature))
            raise KeyError(f"trailer {trailer_id!r} has no committed {feature!r} rows")
        part, pos = loc
        fpart = index.parts[part].features[feature]
        fpart.require_intact(trailer_id)
        start, stop = (int(x) for x in fpart.offsets[pos])
        values, spans = fpart.read_rows(start, stop)
        fpart.verify(pos, values, spans)
        return FeatureRows(values, spans, decode_texts(fpart.text(pos)))

    def __getitem__(self, trailer_id: str) -> dict[str, FeatureRows]:
        """{feature: FeatureRows} for every feature stored for `trailer_id`."""
        index = self.index
        names = [f for f in index.feature_names() if trailer_id in index.feature(f)]
        if not names and trailer_id not in index.trailers:
            raise KeyError(f"trailer {trailer_id!r} is not in {self.path}")
        return {f: self.get(trailer_id, f) for f in names}

    def texts(self, trailer_id: str, feature: str) -> list[dict[str, Any]]:
        """Text kept with each row (OCR lines, ASR segments); [] when the feature keeps none."""
        return self.get(trailer_id, feature).texts or []

    def load_feature(
        self, feature: str, verify: bool = True
    ) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
        """One pass over `feature`: (values (N_rows, dim), spans (N_rows, 2), {id: (start, stop)}).

        Reads each part's committed rows with one slice; offsets index into the returned arrays.
        `verify`: check every entry's digests (a damaged trailer raises `StoreIntegrityError`).
        """
        index = self.index
        fparts = index.feature_parts(feature)
        if not fparts:
            raise KeyError(self._unknown_feature(feature))
        dim = int(fparts[0][1].values.shape[1])
        dtype = fparts[0][1].values.dtype
        bases: dict[int, int] = {}
        values_blocks: list[np.ndarray] = []
        span_blocks: list[np.ndarray] = []
        base = 0
        for pi, fpart in fparts:
            fpart.require_intact()
            bases[pi] = base
            if fpart.rows:
                values, spans = fpart.read_rows(0, fpart.rows)
                if verify:
                    for pos, (start, stop) in enumerate(fpart.offsets.tolist()):
                        fpart.verify(pos, values[start:stop], spans[start:stop])
                values_blocks.append(values)
                span_blocks.append(spans)
            base += fpart.rows
        values = _concat(values_blocks, (0, dim), dtype).astype(dtype, copy=False)
        spans = _concat(span_blocks, (0, 2), np.dtype(np.float64)).astype(np.float64, copy=False)
        offsets: dict[str, tuple[int, int]] = {}
        for tid, (part, pos) in index.feature(feature).items():
            start, stop = index.parts[part].features[feature].offsets[pos]
            shift = bases[part]
            offsets[tid] = (int(start) + shift, int(stop) + shift)
        return values, spans, offsets

    # -- labels and splits -----------------------------------------------------------------------

    def labels(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """(label names, {id: multi-hot uint8 vector}); ([], {}) when no labels are stored."""
        return read_labels(self.root)

    def set_labels(
        self,
        label_names: Sequence[str],
        labels: Mapping[str, Sequence[str] | np.ndarray],
        sources: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the store's labels: {id: [label names]} (or a multi-hot vector per id);
        `sources`: where each id's labels came from ("file:line"), named in merge conflicts."""
        write_labels(self.writable_root(), list(label_names), labels, sources)

    def merge_labels(
        self, labels: Mapping[str, Sequence[str]], sources: Mapping[str, str] | None = None
    ) -> tuple[int, int]:
        """Add {id: [label names]} to the stored labels (`sources`: "file:line" per id, named in
        conflicts); -> (ids added, ids already stored with the same names). An id stored with
        other names raises LabelError and nothing is written. Runs under a lock file, so shards
        merging into one store at once lose nothing (see store/labels.py)."""
        self.writable_root()  # refuses a read-only store
        with _labels_lock(self.path):
            fresh = L.open_root(self.path, "r+")  # sees what other processes wrote before
            result = merge_labels(fresh, labels, sources or {})
        self.root = L.open_root(self.path, "r+")
        self.refresh()
        return result

    def splits(self) -> dict[str, dict[str, list[str]]]:
        return read_splits(self.root)

    def set_split(self, name: str, subsets: Mapping[str, Sequence[str]]) -> None:
        """Store (or replace) a named split, e.g. {"train": [...], "val": [...], "test": [...]}."""
        L.check_name("split", name)
        seen: dict[str, str] = {}
        for subset, ids in subsets.items():
            for tid in ids:
                if tid in seen and seen[tid] != subset:
                    raise LabelError(
                        f"split {name!r}: trailer {tid!r} is in both {seen[tid]!r} and "
                        f"{subset!r}: every trailer belongs to one subset"
                    )
                seen[tid] = subset
        write_split(self.writable_root(), name, subsets)


@contextlib.contextmanager
def _labels_lock(path: Path) -> Iterator[None]:
    """An exclusive `flock` on `<store>/.labels.lock` (no lock where fcntl is missing: Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path / LABELS_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


LABELS_LOCK = ".labels.lock"


def _concat(blocks: list[np.ndarray], empty_shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    if not blocks:
        return np.zeros(empty_shape, dtype=dtype)
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
