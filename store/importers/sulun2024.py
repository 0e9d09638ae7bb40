"""`movienet-sulun2024`: the MovieNet trailer features of Sulun et al. 2024 (Zenodo 13909366).

Layout, as their code writes and reads it (serkansulun/movie-genre-classification,
`preprocessing/src/extract_features.py`, `classification/src/dataset.py`): `features.pkl` is
`pickle.dump` of `{'samples': {youtube_id: {'features': {name: array}, 'label': multi-hot}},
'stats': {name: {mean, std, min, max}}, 'idx_to_label': {index: genre}}`. Their extraction turns
tensors into numpy arrays (`utils.detach_tensor`), an empty feature is `[]` (no speech, no faces,
no text) and the README calls the label key `labels`; torch tensors, both label keys and 1-D
vectors are read too. `preprocessing/data/splits.json` holds `trn` / `val` / `tst` id lists and
`preprocessing/data/labels/trailers_genres_clean.csv` the durations (`imdb_id, youtube_id, genres,
title, duration`). The pickle is read by the restricted unpickler (`store/safe_pickle.py`).
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    file_sha256,
    store_labels,
    write_samples,
)
from cinefeat.store.safe_pickle import load_pickle

RELEASE = "MovieNet trailer features, Sulun et al. 2024 (Expert Systems with Applications)"
RECORD = "zenodo:13909366"
DOI = "10.1016/j.eswa.2024.125209"
SUBSETS = {"trn": "train", "val": "val", "tst": "test"}
# The models as the paper's code names them (preprocessing/src/feature_extractors.py).
MODELS: dict[str, tuple[str, str, str]] = {
    "clip": ("visual", "CLIP ViT-B/32 image encoder (openai/CLIP)", "middle frame of each scene"),
    "beats": (
        "audio",
        "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2 (microsoft/unilm beats)",
        "audio windows in order",
    ),
    "face_emotion": (
        "visual",
        "YOLOv5 face detector + trpakov/vit-face-expression (ViT CLS, last hidden state)",
        "mean of the two largest faces in each scene's middle frame with a face",
    ),
    "asr_sentiment": (
        "text",
        "openai/whisper-large-v3 (translate) + cardiffnlp/twitter-roberta-base-sentiment-latest",
        "one vector per trailer (CLS of the whole transcript)",
    ),
    "ocr_sentiment": (
        "text",
        "PaddleOCR + SymSpell + cardiffnlp/twitter-roberta-base-sentiment-latest",
        "one vector per trailer (CLS of the recognised text)",
    ),
}
FILES = {
    "splits": ("splits.json", "preprocessing/data/splits.json"),
    "labels_csv": (
        "trailers_genres_clean.csv",
        "labels/trailers_genres_clean.csv",
        "preprocessing/data/labels/trailers_genres_clean.csv",
    ),
}


@IMPORTERS.register("movienet-sulun2024")
class Sulun2024Importer:
    """MovieNet features of Sulun et al. 2024: features.pkl (+ splits.json, labels csv)."""

    name = "movienet-sulun2024"

    def __init__(
        self,
        prefix: str = "sulun2024",
        splits: str | None = None,
        labels_csv: str | None = None,
        split_name: str = "sulun2024",
    ) -> None:
        """`prefix`: store feature names are `<prefix>_<authors' name>`; `splits` /
        `labels_csv`: the files, when not beside features.pkl or in the repository layout."""
        self.prefix = prefix
        self.split_name = split_name
        self.paths = {"splits": splits, "labels_csv": labels_csv}

    def run(self, source: Path, store: FeatureStore, summary: ImportSummary) -> None:
        pickle_path = source / "features.pkl" if source.is_dir() else source
        folder = pickle_path.parent
        if not pickle_path.is_file():
            raise ReleaseFormatError(f"{pickle_path} is missing: download features.pkl first")
        data = load_pickle(pickle_path)
        samples, names = _check_layout(data, pickle_path)
        csv_rows = self._csv(folder, source, summary, names)
        sha = file_sha256(pickle_path)
        specs = self._specs(samples, pickle_path, sha)
        labels: dict[str, list[str]] = {}
        write_samples(
            store,
            "import-sulun2024",
            specs,
            self._samples(samples, specs, names, csv_rows, labels, summary, pickle_path),
            summary,
            total=len(samples),
            source_path=str(pickle_path),
        )
        ids = set(store.ids())
        kept = {tid: genres for tid, genres in labels.items() if tid in ids}
        sources = {tid: f"{pickle_path.name}:{tid}" for tid in kept}
        store_labels(store, names, kept, sources, summary)
        unlabelled = [tid for tid, genres in kept.items() if not genres]
        if unlabelled:
            summary.notes.append(
                f"{len(unlabelled)} trailers have no genre in the release (all-zero multi-hot); "
                "kept as the authors trained with them"
            )
        self._split(folder, source, store, ids, summary)

    # -- pieces -----------------------------------------------------------------------------------

    def _specs(self, samples: dict[str, Any], path: Path, sha: str) -> dict[str, FeatureSpec]:
        """One spec per feature name, dim and dtype from the first non-empty value."""
        specs: dict[str, FeatureSpec] = {}
        for tid, sample in samples.items():
            for name, value in _features(sample, tid, path).items():
                if name in specs:
                    continue
                rows = as_rows(value)
                if rows is None:
                    continue
                kind, model, sampling = MODELS.get(name, ("unknown", "not stated", "not stated"))
                provenance = {
                    "extractor": f"import:{Sulun2024Importer.name}",
                    "kind": kind,
                    "release": RELEASE,
                    "record": RECORD,
                    "doi": DOI,
                    "file": path.name,
                    "file_sha256": sha,
                    "release_feature": name,
                    "model": model,
                    "sampling": {"rows": sampling, "spans": STEP_SPANS},
                }
                dtype = "float16" if rows.dtype == np.float16 else "float32"
                specs[f"{self.prefix}_{name}"] = FeatureSpec(
                    f"{self.prefix}_{name}", provenance, int(rows.shape[1]), dtype
                )
        return specs

    def _samples(
        self,
        samples: dict[str, Any],
        specs: dict[str, FeatureSpec],
        names: list[str],
        csv_rows: dict[str, dict[str, Any]],
        labels: dict[str, list[str]],
        summary: ImportSummary,
        path: Path,
    ) -> Iterator[Sample]:
        for key in list(samples):
            sample = samples.pop(key)  # the store holds it from here: one copy in memory
            tid = _youtube_id(key)
            features: dict[str, np.ndarray | None] = {}
            for name, value in _features(sample, tid, path).items():
                store_name = f"{self.prefix}_{name}"
                rows = as_rows(value)
                spec = specs.get(store_name)
                if rows is not None and spec is not None and rows.shape[1] != spec.dim:
                    summary.skip(f"{name} has dim {rows.shape[1]}, not {spec.dim}", tid)
                    continue
                features[store_name] = rows
            label = _label(sample, tid, len(names), path)
            row = csv_rows.get(tid, {})
            if label is not None:
                labels[tid] = [names[i] for i in np.flatnonzero(label)]
            elif row.get("genres") is not None:
                labels[tid] = row["genres"]
            else:
                summary.skip("no label in the pickle or the csv", tid)
            extra = {k: row[k] for k in ("imdb_id", "title") if row.get(k)}
            yield Sample(tid, features, duration_s=row.get("duration"), extra=extra)

    def _find(self, key: str, folder: Path, source: Path) -> Path | None:
        given = self.paths[key]
        if given is not None:
            path = Path(given)
            if not path.is_file():
                raise ReleaseFormatError(f"{path} ({key}) does not exist")
            return path
        for base in dict.fromkeys([folder, source if source.is_dir() else folder]):
            for name in FILES[key]:
                if (base / name).is_file():
                    return base / name
        return None

    def _csv(
        self, folder: Path, source: Path, summary: ImportSummary, names: list[str]
    ) -> dict[str, dict[str, Any]]:
        """{youtube id: {imdb_id, title, duration, genres}}; bad genre values are reported."""
        path = self._find("labels_csv", folder, source)
        if path is None:
            summary.notes.append("no trailers_genres_clean.csv: durations unknown")
            return {}
        out: dict[str, dict[str, Any]] = {}
        known = set(names)
        with open(path, newline="", encoding="utf-8") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                tid = (row.get("youtube_id") or "").strip()
                if not tid:
                    continue
                try:
                    genres = ast.literal_eval(row.get("genres") or "[]")
                except (ValueError, SyntaxError):
                    summary.skip(
                        f"{path.name}: unreadable genres (ignored)", f"{tid} (line {line})"
                    )
                    genres = None
                if genres is not None:
                    bad = [g for g in genres if g not in known]
                    for genre in bad:
                        summary.skip(
                            f"{path.name}: genre {genre!r} not in idx_to_label (dropped)", tid
                        )
                    genres = [g for g in genres if g in known]
                    if not genres:
                        summary.skip(f"{path.name}: empty genre list", tid)
                out[tid] = {
                    "imdb_id": row.get("imdb_id"),
                    "title": row.get("title"),
                    "duration": _float(row.get("duration")),
                    "genres": genres,
                }
        return out

    def _split(
        self, folder: Path, source: Path, store: FeatureStore, ids: set[str], summary: ImportSummary
    ) -> None:
        path = self._find("splits", folder, source)
        if path is None:
            summary.notes.append("no splits.json: no split stored")
            return
        raw = json.loads(path.read_text())
        subsets: dict[str, list[str]] = {}
        for key, subset in SUBSETS.items():
            listed = [str(t) for t in raw.get(key, [])]
            subsets[subset] = [t for t in listed if t in ids]
            for tid in listed:
                if tid not in ids:
                    summary.skip(f"{path.name} id not among the imported trailers", tid)
        store.set_split(self.split_name, subsets)
        summary.splits[self.split_name] = {k: len(v) for k, v in subsets.items()}
        summary.notes.append(f"split {self.split_name}: trn/val/tst stored as train/val/test")


def _check_layout(data: Any, path: Path) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(data, dict) or not isinstance(data.get("samples"), dict):
        raise ReleaseFormatError(
            f"{path}: expected a dict with 'samples' (youtube id -> sample), got "
            f"{type(data).__name__} with keys {sorted(data)[:5] if isinstance(data, dict) else []}"
        )
    index = data.get("idx_to_label")
    if not isinstance(index, dict) or not index:
        raise ReleaseFormatError(f"{path}: 'idx_to_label' (index -> genre) is missing")
    names = [str(index[i]) for i in sorted(index)]
    return data["samples"], names


def _features(sample: Any, tid: Any, path: Path) -> dict[str, Any]:
    features = sample.get("features") if isinstance(sample, dict) else None
    if not isinstance(features, dict):
        raise ReleaseFormatError(f"{path}: sample {tid!r} has no 'features' dict")
    return features


def _label(sample: dict[str, Any], tid: Any, classes: int, path: Path) -> np.ndarray | None:
    value = sample.get("label", sample.get("labels"))
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    label = np.asarray(value).reshape(-1)
    if label.shape != (classes,):
        raise ReleaseFormatError(
            f"{path}: sample {tid!r} has a label of {label.size} values, but idx_to_label names "
            f"{classes} genres"
        )
    return label


def _youtube_id(key: Any) -> str:
    """The sample key as a YouTube id: extract_features.py keys samples by `video_path.stem`,
    but its label lookup uses `youtube_id + '.mkv'`; a key with the extension loses it here."""
    text = str(key)
    for extension in (".mkv", ".mp4", ".webm"):
        if text.endswith(extension):
            return text[: -len(extension)]
    return text


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None
