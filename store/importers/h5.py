"""`h5`: anyone's precomputed vectors in one HDF5 file, in either of the two layouts people write.

- *One dataset per sample*: `/<feature>/<id>` of shape `(steps, dim)` or `(dim,)` (what
  `h5[f"{feature}/{video_id}"] = rows` in a per-video extraction loop produces).
- *One 2-D dataset per feature*: `/<feature>` of shape `(samples, dim)`, row *i* belonging to
  `/ids[i]` (what `h5.create_dataset("clip", data=matrix)` after a batch run produces).

Both may sit in one file. Optional labels: a `/labels` dataset `(samples, labels)` of 0/1 aligned
with `/ids`, its names in its `names` attribute (or the root's `label_names`); or a `labels`
attribute (a list of names) on each per-sample dataset, the vocabulary being the root's
`label_names` or the sorted union. An optional `/split` dataset of subset names (`train`, `val`,
`test`, ...) aligned with `/ids` becomes one split. Reserved root names: `ids`, `labels`, `split`.
Datasets are read one sample at a time; the file's spans are step indices (see STEP_SPANS). A
`model` / `kind` attribute on a feature's group or dataset goes into its provenance, as do the
options of the same names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cinefeat.store import layout as L
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.hdf5 import HDF5_FORMAT
from cinefeat.store.importers import IMPORTERS
from cinefeat.store.importers._common import (
    STEP_SPANS,
    FeatureSpec,
    ImportSummary,
    ReleaseFormatError,
    Sample,
    as_rows,
    file_sha256,
    store_labels,
    write_samples,
)

RESERVED = ("ids", "labels", "split")
SUFFIXES = (".h5", ".hdf5", ".hdf")


@IMPORTERS.register("h5")
class H5Importer:
    """One HDF5 file: /<feature>/<id> datasets, or 2-D /<feature> datasets with /ids."""

    name = "h5"

    def __init__(
        self,
        model: str = "not stated",
        kind: str = "unknown",
        features: list[str] | None = None,
        split_name: str = "h5",
    ):
        """`model` / `kind`: provenance where the file has no such attribute; `features`: import
        only these (default: all); `split_name`: the store split `/split` becomes."""
        self.model = model
        self.kind = kind
        self.features = features
        self.split_name = split_name

    def run(self, source: Path, store: FeatureStore, summary: ImportSummary) -> None:
        path = _find_file(source)
        try:
            h5 = h5py.File(path, "r")
        except OSError as error:
            raise ReleaseFormatError(f"{path} is not a readable HDF5 file ({error})") from error
        with h5:
            if _text(h5.attrs.get("format", "")) == HDF5_FORMAT:
                raise ReleaseFormatError(
                    f"{path} is a cinefeat store export: read it back with `cinefeat store "
                    "import-hdf5`, which keeps its records, spans and provenance"
                )
            ids = _strings(h5, "ids", path) if "ids" in h5 else None
            if ids is not None and len(set(ids)) != len(ids):
                twice = sorted(t for t, n in Counter(ids).items() if n > 1)[:5]
                raise ReleaseFormatError(f"{path}: /ids lists {twice} more than once")
            layout = self._layout(h5, path, ids)
            sha = file_sha256(path)
            specs = {name: self._spec(h5, path, sha, name, kind) for name, kind in layout.items()}
            row_of = {tid: i for i, tid in enumerate(ids)} if ids is not None else {}
            every = sorted({tid for name in layout for tid in _ids_of(h5, name, layout, ids)})
            attr_labels: dict[str, list[str]] = {}
            write_samples(store, "import-h5", specs,
                          self._samples(h5, specs, every, row_of, attr_labels, path, summary),
                          summary, total=len(every), source_path=str(path))  # fmt: skip
            present = set(store.ids())
            self._labels(h5, path, ids, attr_labels, present, store, summary)
            if "split" in h5:
                self._split(h5, path, ids, present, store, summary)

    def _layout(self, h5: h5py.File, path: Path, ids: list[str] | None) -> dict[str, str]:
        """{feature: "per-sample" | "matrix"} of the file (or of the `features` option)."""
        layout: dict[str, str] = {}
        for name, item in h5.items():
            if name in RESERVED or (self.features and name not in self.features):
                continue
            if isinstance(item, h5py.Group):
                layout[name] = "per-sample"
            elif item.ndim == 2:
                if ids is None:
                    raise ReleaseFormatError(
                        f"{path}: /{name} is a 2-D dataset (one row per sample) but the file has "
                        "no /ids dataset saying whose rows they are"
                    )
                if item.shape[0] != len(ids):
                    raise ReleaseFormatError(
                        f"{path}: /{name} has {item.shape[0]} rows but /ids has {len(ids)}"
                    )
                layout[name] = "matrix"
            else:
                raise ReleaseFormatError(
                    f"{path}: /{name} has shape {item.shape}; expected a group of per-sample "
                    "datasets or a 2-D (samples, dim) dataset with /ids"
                )
        missing = sorted(set(self.features or ()) - set(layout))
        if missing or not layout:
            raise ReleaseFormatError(
                f"{path} holds no feature {missing or ''} (it has {sorted(h5)}); see "
                "docs/importing.md for the two layouts"
            )
        for name in layout:
            L.check_name("feature", name)
        return layout

    def _spec(self, h5: h5py.File, path: Path, sha: str, name: str, kind: str) -> FeatureSpec:
        item = h5[name]
        if kind == "matrix":
            dim, dtype = int(item.shape[1]), item.dtype
        else:
            first = next((d for d in item.values() if isinstance(d, h5py.Dataset)), None)
            if first is None:
                raise ReleaseFormatError(f"{path}: /{name} holds no datasets")
            dim, dtype = int(first.shape[-1]), first.dtype
        if not np.issubdtype(dtype, np.number):
            raise ReleaseFormatError(f"{path}: /{name} holds {dtype} values, not numbers")
        provenance = {
            "extractor": f"import:{self.name}",
            "kind": _text(item.attrs.get("kind", self.kind)),
            "release": "hdf5 file",
            "file": str(path),
            "file_sha256": sha,
            "release_feature": f"/{name}",
            "layout": kind,
            "model": _text(item.attrs.get("model", self.model)),
            "sampling": {"rows": "as stored", "spans": STEP_SPANS},
        }
        storage = "float16" if dtype == np.float16 else "float32"
        return FeatureSpec(name, provenance, dim, storage)

    def _samples(
        self,
        h5: h5py.File,
        specs: dict[str, FeatureSpec],
        ids: list[str],
        row_of: dict[str, int],
        attr_labels: dict[str, list[str]],
        path: Path,
        summary: ImportSummary,
    ) -> Iterator[Sample]:
        for tid in ids:
            features: dict[str, np.ndarray | None] = {}
            for name, spec in specs.items():
                if spec.provenance["layout"] == "matrix":
                    if tid not in row_of:
                        continue
                    rows = as_rows(h5[name][row_of[tid]])
                else:
                    if tid not in h5[name]:
                        continue
                    dataset = h5[name][tid]
                    if not isinstance(dataset, h5py.Dataset) or dataset.ndim not in (1, 2):
                        raise ReleaseFormatError(
                            f"{path}: /{name}/{tid} is not a (steps, dim) or (dim,) dataset"
                        )
                    rows = as_rows(dataset[()])
                    if "labels" in dataset.attrs:
                        attr_labels[tid] = [
                            _text(v) for v in np.atleast_1d(dataset.attrs["labels"])
                        ]
                if rows is not None and rows.shape[1] != spec.dim:
                    summary.skip(f"{name}: dim {rows.shape[1]}, not {spec.dim}", tid)
                    continue
                features[name] = rows
            yield Sample(tid, features)

    def _labels(
        self,
        h5: h5py.File,
        path: Path,
        ids: list[str] | None,
        attr_labels: dict[str, list[str]],
        present: set[str],
        store: FeatureStore,
        summary: ImportSummary,
    ) -> None:
        root_names = [_text(v) for v in h5.attrs.get("label_names", [])]
        labels: dict[str, list[str]] = {}
        if "labels" in h5:
            matrix = h5["labels"]
            if ids is None or matrix.ndim != 2 or matrix.shape[0] != len(ids):
                raise ReleaseFormatError(
                    f"{path}: /labels must be (samples, labels) aligned with /ids; it has shape "
                    f"{matrix.shape} and /ids {'is missing' if ids is None else len(ids)}"
                )
            names = [_text(v) for v in matrix.attrs.get("names", [])] or root_names
            names = names or [f"label_{i}" for i in range(matrix.shape[1])]
            if len(names) != matrix.shape[1]:
                raise ReleaseFormatError(
                    f"{path}: /labels has {matrix.shape[1]} columns but {len(names)} names"
                )
            for i, tid in enumerate(ids):  # one row at a time: no whole matrix in memory
                labels[tid] = [n for n, v in zip(names, matrix[i], strict=True) if v]
        else:
            names = root_names or sorted({n for ns in attr_labels.values() for n in ns})
            labels = dict(attr_labels)
            for tid, listed in labels.items():
                unknown = sorted(set(listed) - set(names))
                if unknown:
                    summary.skip(f"labels {unknown} not in the file's label_names", tid)
                    labels[tid] = [n for n in listed if n in names]
        unknown_ids = sorted(set(labels) - present)
        for tid in unknown_ids:
            summary.skip("labelled but has no features in the file", tid)
        kept = {tid: listed for tid, listed in labels.items() if tid in present}
        sources = {tid: f"{path.name}:{tid}" for tid in kept}
        store_labels(store, names, kept, sources, summary)

    def _split(
        self,
        h5: h5py.File,
        path: Path,
        ids: list[str] | None,
        present: set[str],
        store: FeatureStore,
        summary: ImportSummary,
    ) -> None:
        subsets_of = _strings(h5, "split", path)
        if ids is None or len(subsets_of) != len(ids):
            raise ReleaseFormatError(f"{path}: /split must have one subset name per /ids entry")
        subsets: dict[str, list[str]] = {}
        for tid, subset in zip(ids, subsets_of, strict=True):
            if tid in present:
                subsets.setdefault(subset, []).append(tid)
        store.set_split(self.split_name, subsets)
        summary.splits[self.split_name] = {k: len(v) for k, v in subsets.items()}


def _find_file(source: Path) -> Path:
    if source.is_file():
        return source
    found = sorted(p for p in source.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if len(found) != 1:
        raise ReleaseFormatError(
            f"{source} holds {len(found)} HDF5 files ({', '.join(p.name for p in found)}); give "
            "the file itself as SOURCE"
        )
    return found[0]


def _strings(h5: h5py.File, name: str, path: Path) -> list[str]:
    dataset = h5[name]
    if not isinstance(dataset, h5py.Dataset) or dataset.ndim != 1:
        raise ReleaseFormatError(f"{path}: /{name} must be a 1-D dataset")
    return [_text(v) for v in dataset[()]]


def _text(value: Any) -> str:
    """h5py gives strings as bytes (fixed-length or old files) or str; ids may be numbers."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _ids_of(h5: h5py.File, name: str, layout: dict[str, str], ids: list[str] | None) -> list[str]:
    return list(ids or []) if layout[name] == "matrix" else list(h5[name].keys())
