"""From a feature store to `PaddedFeatures`: feature selection, lengths, labels, splits.

Reads each feature in one pass (`FeatureStore.load_feature`) instead of one read per trailer,
which is what keeps the data loader's share of a training step small. A trailer that lacks a
feature (no audio stream, extraction failed) gets zero rows for it: the masks say so, and heads
such as `gated` are built to cope.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.fuse.data import DataError, PaddedFeatures
from cinefeat.fuse.heads import FeatureSpec, Head
from cinefeat.fuse.splits import SUBSETS, Split, duration_inliers, read_split_file, top_labels
from cinefeat.store.errors import NO_LABELS

log = logging.getLogger(__name__)


@dataclass
class StoreSelection:
    """What a training run reads from a store: ids per subset, labels kept, lengths."""

    split: Split
    label_names: list[str]
    label_columns: list[int]
    labels: dict[str, np.ndarray]
    max_len: dict[str, int]
    split_name: str | None = None  # the stored split used (None with a split file)


def usable_ids(
    store: Any, ids: Sequence[str], features: Sequence[str] = (), partial: bool = False
) -> tuple[list[str], dict[str, int]]:
    """The labelled ids a split may hold, and how many were left out for each reason.

    Left out: ids with no committed record (labelled but never extracted), trailers whose record
    is failed (zero-byte or text files: they would train as empty inputs), and ids without rows of
    the features asked for (with `partial`, only ids without rows of *any* of them: heads such as
    `gated` are built for trailers that lack one modality).
    """
    unknown = [f for f in features if f not in store.features()]
    if unknown:
        raise DataError(f"features {unknown} are not in the store (it has {store.features()})")
    failed = set(store.ids(status="failed"))
    recorded = set(store.ids())
    rows = {f: {t for t, n in store.lengths(f).items() if n > 0} for f in features}
    kept, left_out = [], {}

    def leave(reason: str) -> None:
        left_out[reason] = left_out.get(reason, 0) + 1

    for trailer in ids:
        if trailer not in recorded:
            leave("no record in the store")
        elif trailer in failed:
            leave("extraction failed")
        elif features and not partial and any(trailer not in rows[f] for f in features):
            missing = [f for f in features if trailer not in rows[f]]
            leave(f"no {'/'.join(missing)} rows")
        elif features and partial and all(trailer not in rows[f] for f in features):
            leave(f"no rows of {'/'.join(features)}")
        else:
            kept.append(trailer)
    return kept, left_out


def parse_max_len(text: str | None) -> dict[str, int] | str:
    """`--max-len whisker` (default) or `--max-len clip=216,ocr=64`."""
    if text is None or text == "whisker":
        return "whisker"
    lengths = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if not value.isdigit():
            raise DataError(f"--max-len item {item!r} must be FEATURE=INT, e.g. clip=216")
        lengths[name.strip()] = int(value)
    return lengths


def feature_lengths(
    store: Any, features: Sequence[str], ids: Sequence[str], given: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Padded length per feature: the one `given` (`--max-len clip=216`), else the upper whisker
    of the lengths of `ids` (the training trailers; a trailer without rows counts as 0)."""
    from cinefeat.store.data import whisker_length

    given = given or {}
    lengths: dict[str, int] = {}
    for feature in features:
        if feature in given:
            lengths[feature] = int(given[feature])
        else:
            per_id = store.lengths(feature)
            lengths[feature] = whisker_length([per_id.get(t, 0) for t in ids])
    return lengths


def select(
    store: Any,
    features: Sequence[str],
    split_name: str | None = None,
    split_file: str | None = None,
    max_len: Mapping[str, int] | str = "whisker",
    top_k: int | None = None,
    duration_filter: bool = False,
) -> StoreSelection:
    require_features(store, features)
    label_names, labels = store.labels()
    if not label_names:
        raise DataError(NO_LABELS)
    name = None
    if split_file:
        split = read_split_file(split_file)
    else:
        splits = store.splits()
        if not splits:
            raise DataError("the store has no split: make one with `cinefeat split STORE ...`")
        name = split_name or ("sorted-id" if "sorted-id" in splits else sorted(splits)[0])
        if name not in splits:
            raise DataError(f"split {name!r} is not in the store; it has {sorted(splits)}")
        split = {s: list(splits[name].get(s, [])) for s in SUBSETS}
    keep = set(labels)
    if duration_filter:
        durations = {
            t: store.record(t).duration_s for t in keep if store.record(t).duration_s is not None
        }
        kept, (low, high) = duration_inliers(durations)
        log.info(
            "duration filter keeps %d of %d (%.1f s .. %.1f s)", len(kept), len(keep), low, high
        )
        keep = set(kept)
    split = {s: [t for t in ids if t in keep] for s, ids in split.items()}
    columns = list(range(len(label_names)))
    if top_k:
        train_labels = np.stack([labels[t] for t in split["train"]]) if split["train"] else None
        if train_labels is None:
            raise DataError("the training split is empty after filtering")
        columns = top_labels(label_names, train_labels, top_k)
    given = max_len if isinstance(max_len, Mapping) else {}
    lengths = feature_lengths(store, features, split["train"], given)
    return StoreSelection(
        split=split,
        label_names=[label_names[c] for c in columns],
        label_columns=columns,
        labels=labels,
        max_len=lengths,
        split_name=name,
    )


def require_features(store: Any, features: Sequence[str]) -> None:
    if not features:
        raise DataError("no features given: name at least one store feature (--features clip,...)")
    unknown = [f for f in features if f not in store.features()]
    if unknown:
        raise DataError(
            f"features {unknown} are not in the store (it has {store.features()}): extract them "
            "first with `cinefeat extract`"
        )


def load_sequences(
    store: Any, features: Sequence[str], ids: Sequence[str]
) -> dict[str, list[np.ndarray]]:
    """Every row of each feature for `ids` (one read per feature); missing -> zero rows."""
    sequences: dict[str, list[np.ndarray]] = {}
    for feature in features:
        values, _, offsets = store.load_feature(feature)
        empty = np.zeros((0, values.shape[1]), dtype=values.dtype)
        missing = [t for t in ids if t not in offsets]
        if missing:
            log.warning("%d trailers have no %r rows; they count as empty", len(missing), feature)
        sequences[feature] = [
            values[offsets[t][0] : offsets[t][1]] if t in offsets else empty for t in ids
        ]
    return sequences


def _labels(selection: StoreSelection, ids: Sequence[str]) -> np.ndarray:
    if not ids:
        return np.zeros((0, len(selection.label_columns)))
    return np.stack([selection.labels[t][selection.label_columns] for t in ids])


def load_padded(
    store: Any,
    features: Sequence[str],
    ids: Sequence[str],
    selection: StoreSelection,
    average: Sequence[str] = (),
    crop: str = "first",
    whole: bool = False,
) -> PaddedFeatures:
    """`ids` padded to the selection's max lengths, cut by `crop`; `whole` keeps every row
    (evaluation, validation and prediction: whole-trailer inference)."""
    sequences = load_sequences(store, features, ids)
    lengths = None if whole else selection.max_len
    return PaddedFeatures.from_sequences(
        sequences, _labels(selection, ids), ids, lengths, average, crop
    )


def load_subsets(
    store: Any,
    features: Sequence[str],
    selection: StoreSelection,
    average: Sequence[str] = (),
    crop: str = "first",
) -> dict[str, PaddedFeatures]:
    """train / val / test from one read of the store: train cut to the max lengths by `crop`
    (what the head trains on), val and test whole (what it is selected and judged on)."""
    train_ids = list(selection.split["train"])
    held_out = [t for subset in ("val", "test") for t in selection.split[subset]]
    sequences = load_sequences(store, features, train_ids + held_out)
    count = len(train_ids)

    def padded(ids: list[str], start: int, stop: int, lengths) -> PaddedFeatures:
        rows = {f: sequences[f][start:stop] for f in features}
        return PaddedFeatures.from_sequences(
            rows, _labels(selection, ids), ids, lengths, average, crop
        )

    train = padded(train_ids, 0, count, selection.max_len) if train_ids else None
    whole = padded(held_out, count, len(sequences[features[0]]), None) if held_out else None
    source = whole if whole is not None else train
    if source is None:
        raise DataError("the split has no trailers; check --split / --split-file")
    parts = {s: source.select_ids(selection.split[s]) for s in ("val", "test")}
    # an empty training split stays empty (the trainer names the fix)
    parts["train"] = train if train is not None else source.select_ids([])
    return parts


def load_labelled(
    store: Any,
    features: Sequence[str],
    ids: Sequence[str],
    max_len: Mapping[str, int] | None = None,
    crop: str = "first",
    average: Sequence[str] = (),
) -> PaddedFeatures:
    """`ids` padded (cut to `max_len` by `crop`) with *every* store label as a named column.

    The path of the zero-shot folds (which pick label columns per role: `PaddedFeatures.take`)
    and of the similarity tools; a trailer without labels has an all-zero row.
    """
    require_features(store, features)
    label_names, label_map = store.labels()
    targets = np.zeros((len(ids), len(label_names)), dtype=np.float32)
    for row, trailer in enumerate(ids):
        if trailer in label_map:
            targets[row] = label_map[trailer]
    sequences = load_sequences(store, features, ids)
    return PaddedFeatures.from_sequences(
        sequences, targets, ids, max_len, average, crop, label_names
    )


def head_inputs(store: Any, head: Head, ids: Sequence[str]) -> PaddedFeatures:
    """What a loaded head of any kind reads from `store` for `ids`: its features, cut to its
    training lengths the way it was trained (`head.config.crop`), its averaging; every store
    label as a column (`cinefeat embed`, `suggest`, `similarity-tune`)."""
    return load_labelled(
        store,
        head.feature_names,
        ids,
        {spec.name: spec.max_len for spec in head.features},
        head.config.crop,
        head.average,
    )


def feature_specs(
    data: PaddedFeatures, average: Sequence[str], max_len: Mapping[str, int]
) -> list[FeatureSpec]:
    return [
        FeatureSpec(
            name, int(values.shape[-1]), 1 if name in average else max_len[name], name in average
        )
        for name, values in data.values.items()
    ]


def provenance(
    store: Any, features: Sequence[str], split: str | None, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a head records about its training data (saved in `features.json`).

    `features` holds the store's provenance of every input feature (extractor, model, weights
    hash, config hash: see `cinefeat.fuse.provenance` for the check at prediction time); `data`
    the data options that `cinefeat evaluate` must apply the same way (split, filters).
    """
    record: dict[str, Any] = {
        "store": str(getattr(store, "path", store)),
        "split": split,
        "features": {f: store.provenance(f) for f in features},
    }
    if data is not None:
        record["data"] = dict(data)
    return record
