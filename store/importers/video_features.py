"""`video-features`: output folders of v-iashin/video_features (`on_extraction=save_numpy` or
`save_pickle`).

Layout, as their code writes it (`models/_base/base_extractor.py: action_on_extraction`,
`utils/utils.py: make_path`): one file `<video stem>_<key>.npy` (or `.pkl`, a `pickle.dump` of the
array) per video and key of the extractor's output dict: the feature itself (`rgb`, `flow`,
`vggish`, `clip`, `resnet`, `r21d`, `s3d`, ...) and, where the extractor writes them, `fps` and
`timestamps_ms` (one per row). The video stem is the trailer id and each feature key becomes the
store feature `<prefix>_<key>`. Rows with a `timestamps_ms` of the same length get spans from it
(start = the timestamp, end = the next one; the last row's end adds the median step); others get
step indices. Pickles go through the restricted unpickler; `.npy` files are read without pickle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

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
from cinefeat.store.safe_pickle import load_pickle

META_KEYS = ("timestamps_ms", "fps")
SPANS = (
    "seconds from the extractor's timestamps_ms where written (start = timestamp, end = the next "
    f"one); otherwise {STEP_SPANS}"
)


@IMPORTERS.register("video-features")
class VideoFeaturesImporter:
    """v-iashin/video_features outputs: <video>_<key>.npy / .pkl per video and key."""

    name = "video-features"

    def __init__(
        self, keys: list[str] | None = None, prefix: str = "vf", model: str = "not stated"
    ) -> None:
        """`keys`: feature keys to import (default: every key found but fps / timestamps_ms);
        `model`: the extractor and weights, as run (recorded in the provenance)."""
        self.keys = keys
        self.prefix = prefix
        self.model = model

    def run(self, source: Path, store: FeatureStore, summary: ImportSummary) -> None:
        if not source.is_dir():
            raise ReleaseFormatError(f"{source} is not a video_features output folder")
        files: dict[str, dict[str, Path]] = {}  # key -> {video stem: file}
        for path in sorted(p for ext in ("*.npy", "*.pkl") for p in source.rglob(ext)):
            stem, key = _split_name(path)
            if stem:
                files.setdefault(key, {})[stem] = path
        keys = [k for k in (self.keys or sorted(files)) if k not in META_KEYS]
        missing = [k for k in keys if k not in files]
        if missing or not keys:
            raise ReleaseFormatError(
                f"{source} holds no <video>_<key>.npy/.pkl files for {missing or 'any key'} "
                f"(found keys: {sorted(files) or 'none'})"
            )
        specs = {f"{self.prefix}_{k}": self._spec(k, files[k], source) for k in keys}
        ids = sorted({stem for k in keys for stem in files[k]})
        stamps = files.get("timestamps_ms", {})
        write_samples(store, "import-video-features", specs,
                      self._samples(ids, keys, files, stamps, specs, summary), summary,
                      total=len(ids), source_path=str(source))  # fmt: skip

    def _spec(self, key: str, by_id: dict[str, Path], source: Path) -> FeatureSpec:
        path = next(iter(by_id.values()))
        first = _read(path)
        if first is None:
            raise ReleaseFormatError(f"{path} is empty: its dim cannot be known")
        provenance = {
            "extractor": f"import:{self.name}",
            "kind": "audio" if key == "vggish" else "visual",
            "release": "v-iashin/video_features output",
            "file": str(source),
            "release_feature": key,
            "model": self.model,
            "sampling": {"rows": "as the extractor wrote them", "spans": SPANS},
        }
        dtype = "float16" if first.dtype == np.float16 else "float32"
        return FeatureSpec(f"{self.prefix}_{key}", provenance, int(first.shape[1]), dtype)

    def _samples(
        self,
        ids: list[str],
        keys: list[str],
        files: dict[str, dict[str, Path]],
        stamps: dict[str, Path],
        specs: dict[str, FeatureSpec],
        summary: ImportSummary,
    ) -> Iterator[Sample]:
        for tid in ids:
            features: dict[str, np.ndarray | None] = {}
            spans: dict[str, np.ndarray] = {}
            times = _times(stamps[tid]) if tid in stamps else None
            for key in keys:
                name = f"{self.prefix}_{key}"
                path = files[key].get(tid)
                if path is None:
                    continue
                rows = _read(path)
                if rows is not None and rows.shape[1] != specs[name].dim:
                    summary.skip(f"{name}: dim {rows.shape[1]}, not {specs[name].dim}", tid)
                    continue
                features[name] = rows
                if rows is not None and times is not None and len(times) == len(rows):
                    spans[name] = _spans_from(times)
            yield Sample(tid, features, spans=spans)


def _split_name(path: Path) -> tuple[str, str]:
    """`<stem>_<key>.<ext>` -> (stem, key); the stem may hold underscores, `timestamps_ms` too."""
    name = path.stem
    for meta in META_KEYS:
        if name.endswith(f"_{meta}"):
            return name[: -len(meta) - 1], meta
    stem, _, key = name.rpartition("_")
    return stem, key


def _read(path: Path) -> np.ndarray | None:
    try:
        value = load_pickle(path) if path.suffix == ".pkl" else np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ReleaseFormatError(
            f"{path} could not be read as a plain array ({error}): truncated, or an object array"
        ) from error
    return as_rows(value)


def _times(path: Path) -> np.ndarray:
    value = load_pickle(path) if path.suffix == ".pkl" else np.load(path, allow_pickle=False)
    return np.asarray(value, dtype=np.float64).reshape(-1) / 1000.0


def _spans_from(times: np.ndarray) -> np.ndarray:
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    ends = np.append(times[1:], times[-1] + step)
    return np.stack([times, ends], axis=1)
