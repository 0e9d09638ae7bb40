"""`npy-dir`: anyone's precomputed vectors, one `.npy` file per trailer (id = file stem).

A file holds `(steps, dim)` rows or one `(dim,)` vector. SOURCE is either a folder of `.npy`
files (one feature, named by the `feature` option or the folder) or a folder of such folders
(one feature per subfolder). A companion `<id>.spans.npy` of shape `(steps, 2)` gives each row's
span in seconds; without one, spans are step indices (see STEP_SPANS). Files are read with
`allow_pickle=False`, one at a time: an object array (a pickle inside) is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cinefeat.store import layout as L
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.importers import IMPORTERS
from cinefeat.store.importers._common import (
    STEP_SPANS,
    FeatureSpec,
    ImportSummary,
    ReleaseFormatError,
    Sample,
    as_rows,
    write_samples,
)

SPANS_SUFFIX = ".spans"


@IMPORTERS.register("npy-dir")
class NpyDirImporter:
    """A folder of .npy files, one per trailer (or one subfolder of them per feature)."""

    name = "npy-dir"

    def __init__(
        self, feature: str | None = None, model: str = "not stated", kind: str = "unknown"
    ):
        """`feature`: the store name of a single-folder import (default: the folder's name);
        `model` / `kind`: what the provenance records about the vectors."""
        self.feature = feature
        self.model = model
        self.kind = kind

    def run(self, source: Path, store: FeatureStore, summary: ImportSummary) -> None:
        if not source.is_dir():
            raise ReleaseFormatError(f"{source} is not a folder of .npy files")
        folders = {self.feature or source.name: source} if _npys(source) else {
            d.name: d for d in sorted(source.iterdir()) if d.is_dir() and _npys(d)
        }  # fmt: skip
        if not folders:
            raise ReleaseFormatError(f"{source} holds no .npy files (nor subfolders of them)")
        files = {name: {p.stem: p for p in _npys(folder)} for name, folder in folders.items()}
        specs = {}
        for name, by_id in files.items():
            L.check_name("feature", name)
            path = next(iter(by_id.values()))
            first = _load(path)
            if first is None:
                raise ReleaseFormatError(f"{path} is empty: its dim cannot be known")
            provenance = {
                "extractor": f"import:{self.name}",
                "kind": self.kind,
                "release": "npy folder",
                "file": str(folders[name]),
                "model": self.model,
                "sampling": {"rows": "as stored", "spans": f"{SPANS_SUFFIX}.npy or {STEP_SPANS}"},
            }
            dtype = "float16" if first.dtype == np.float16 else "float32"
            specs[name] = FeatureSpec(name, provenance, int(first.shape[1]), dtype)
        ids = sorted({tid for by_id in files.values() for tid in by_id})
        write_samples(store, "import-npy", specs, self._samples(ids, files, specs, summary),
                      summary, total=len(ids), source_path=str(source))  # fmt: skip

    def _samples(
        self,
        ids: list[str],
        files: dict[str, dict[str, Path]],
        specs: dict[str, FeatureSpec],
        summary: ImportSummary,
    ) -> Iterator[Sample]:
        for tid in ids:
            features: dict[str, np.ndarray | None] = {}
            spans: dict[str, np.ndarray] = {}
            for name, by_id in files.items():
                path = by_id.get(tid)
                if path is None:
                    continue
                rows = _load(path)
                if rows is not None and rows.shape[1] != specs[name].dim:
                    summary.skip(f"{name}: dim {rows.shape[1]}, not {specs[name].dim}", tid)
                    continue
                features[name] = rows
                companion = path.with_name(f"{tid}{SPANS_SUFFIX}.npy")
                if rows is not None and companion.is_file():
                    spans[name] = _spans(companion, len(rows))
            yield Sample(tid, features, spans=spans)


def _npys(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.glob("*.npy") if p.is_file() and not p.stem.endswith(SPANS_SUFFIX)
    )


def _load(path: Path) -> np.ndarray | None:
    try:
        return as_rows(np.load(path, allow_pickle=False))
    except (ValueError, OSError, EOFError) as error:  # truncated, or an object array (a pickle)
        raise ReleaseFormatError(
            f"{path} could not be read as a plain .npy array ({error}): a truncated file, or an "
            "object array, which is refused"
        ) from error


def _spans(path: Path, rows: int) -> np.ndarray:
    spans = np.load(path, allow_pickle=False)
    if spans.shape != (rows, 2):
        raise ReleaseFormatError(f"{path}: spans of shape {spans.shape}, expected ({rows}, 2)")
    return spans.astype(np.float64)
