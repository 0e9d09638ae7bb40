"""What every importer shares: the sample it yields, the write loop, the summary it returns.

Why one loop: resuming, skipping and reporting must behave the same for every release. An
importer only turns its release into `Sample`s; `write_samples` decides what is new (a rerun adds
nothing: an id whose every non-empty feature is committed is skipped), writes through one
`StoreWriter` committing every `COMMIT_EVERY` trailers (a killed import keeps what it committed),
and counts what it left out and why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.store.console import progress
from cinefeat.store.errors import StoreError
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.record import TrailerRecord
from cinefeat.store.rows import FeatureRows

COMMIT_EVERY = 256
STEP_SPANS = (
    "the release has no times: spans are step indices [i, i + 1), not seconds (row i of the "
    "release is the span [i, i+1))"
)


class ReleaseFormatError(StoreError):
    """A release does not have the layout its importer reads; the message names file and id."""


@dataclass(frozen=True)
class FeatureSpec:
    """One feature an importer writes: store name, provenance, dim and storage dtype."""

    name: str
    provenance: dict[str, Any]
    dim: int
    dtype: str = "float32"


@dataclass
class Sample:
    """One trailer of a release: its rows per feature (None or empty: absent in the release)."""

    id: str
    features: dict[str, np.ndarray | None]
    spans: dict[str, np.ndarray] = field(default_factory=dict)
    duration_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportSummary:
    """What an import wrote and what it left out, with the reason for each id left out."""

    format: str
    source: str
    store: str
    imported: int = 0
    already_in_store: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    labels: int = 0
    label_names: list[str] = field(default_factory=list)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, trailer_id: str) -> None:
        self.skipped.setdefault(reason, []).append(trailer_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "store": self.store,
            "imported": self.imported,
            "already_in_store": self.already_in_store,
            "rows": dict(self.rows),
            "skipped": {reason: sorted(ids) for reason, ids in sorted(self.skipped.items())},
            "labels": self.labels,
            "label_names": list(self.label_names),
            "splits": self.splits,
            "notes": list(self.notes),
        }

    def format_text(self, shown: int = 5) -> str:
        lines = [
            f"{self.format} from {self.source} into {self.store}: {self.imported} trailers "
            f"imported, {self.already_in_store} already in the store",
        ]
        lines += [f"  {name}: {count} rows" for name, count in sorted(self.rows.items())]
        if self.labels:
            lines.append(f"  labels: {self.labels} trailers, {len(self.label_names)} names")
        for name, subsets in sorted(self.splits.items()):
            sizes = ", ".join(f"{subset} {n}" for subset, n in subsets.items())
            lines.append(f"  split {name}: {sizes}")
        for reason, ids in sorted(self.skipped.items()):
            more = f" (+{len(ids) - shown} more)" if len(ids) > shown else ""
            lines.append(f"  skipped {len(ids)} ({reason}): {', '.join(ids[:shown])}{more}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def step_spans(count: int) -> np.ndarray:
    """Spans [i, i + 1) for a release without times (see STEP_SPANS)."""
    steps = np.arange(count, dtype=np.float64)
    return np.stack([steps, steps + 1.0], axis=1)


def as_rows(values: Any) -> np.ndarray | None:
    """A release's value -> (n, dim) array, or None when it is empty (a list, None, size 0).

    Accepts numpy arrays, torch tensors and lists; a 1-D vector is one row.
    """
    if values is None:
        return None
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.size == 0:
        return None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        array = array.reshape(array.shape[0], -1)
    return array


def write_samples(
    store: FeatureStore,
    run: str,
    specs: Mapping[str, FeatureSpec],
    samples: Iterable[Sample],
    summary: ImportSummary,
    total: int | None = None,
    source_path: str | None = None,
) -> None:
    """Write `samples` into `store` (see module docstring); fills `summary`."""
    committed = {
        name: store.committed(name) if name in store.features() else set() for name in specs
    }
    known = set(store.ids())
    with store.writer(run=run, worker="import", commit_every=COMMIT_EVERY) as writer:
        for spec in specs.values():
            writer.declare_feature(spec.name, spec.provenance, spec.dim, spec.dtype)
        for sample in progress(samples, total=total, desc=f"import {summary.format}", unit="tr"):
            rows: dict[str, FeatureRows] = {}
            status: dict[str, str] = {}
            for name, values in sample.features.items():
                if values is None or len(values) == 0:
                    status[name] = "missing: empty in the release"
                    summary.skip(f"{name} empty in the release", sample.id)
                    continue
                status[name] = "ok"
                if sample.id in committed[name]:
                    continue
                spans = sample.spans.get(name)
                if spans is None:
                    spans = step_spans(len(values))
                rows[name] = FeatureRows(values, spans)
            if sample.id in known and not rows:
                summary.already_in_store += 1
                continue
            record = TrailerRecord(
                id=sample.id,
                source_path=source_path,
                duration_s=sample.duration_s,
                feature_status=status,
                extra={"imported_from": summary.format, **sample.extra},
            )
            writer.add(record, rows)
            known.add(sample.id)
            summary.imported += 1
            for name, feature_rows in rows.items():
                summary.rows[name] = summary.rows.get(name, 0) + len(feature_rows)


def store_labels(
    store: FeatureStore,
    names: list[str],
    labels: Mapping[str, list[str]],
    sources: Mapping[str, str],
    summary: ImportSummary,
) -> None:
    """Labels with the release's whole vocabulary (a genre no trailer has is still a column).

    A store without labels gets them as they are; a store with labels gets them merged (a
    trailer labelled otherwise there is an error naming it; see `FeatureStore.merge_labels`).
    """
    if not labels:
        return
    if not store.labels()[0]:
        store.set_labels(names, labels, sources)
    else:
        store.merge_labels(labels, sources)
    summary.labels, summary.label_names = len(labels), list(names)
