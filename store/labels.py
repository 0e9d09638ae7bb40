"""Labels (multi-hot + names) and named splits, kept in the same store as the features.

Labels are arrays (`labels/ids`, `labels/multi_hot` uint8 (N, C)) with the names in an attribute,
so 50,000 trailers x 21 genres stay a few small chunks. Splits are JSON lists in the `splits`
group's attributes, one entry per split name: small, and replaced atomically.

Why labels merge (`merge_labels`): sharded runs each bring their own labels file, and replacing
made the last shard's file win. A merge keeps every trailer's labels, and a trailer labelled
differently by two files is an error naming it and both sources (`file:line`, kept per id in the
optional `sources` array), since which one is right cannot be guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import zarr

from cinefeat.store import layout as L
from cinefeat.store.errors import LabelError
from cinefeat.store.nodes import array_at, attr_dict, attr_list, group_at

SOURCES = "sources"  # optional (N,) string array: where each id's labels came from
SHOWN = 5  # conflicts named in one error


def read_labels(root: zarr.Group) -> tuple[list[str], dict[str, np.ndarray]]:
    if L.LABELS not in root:
        return [], {}
    group = group_at(root, L.LABELS)
    names = [str(n) for n in attr_list(group, L.LABEL_NAMES_ATTR)]
    ids = array_at(group, "ids")
    if ids.shape[0] == 0:
        return names, {}
    matrix = np.asarray(array_at(group, "multi_hot")[:], dtype=np.uint8)
    return names, {str(tid): matrix[i] for i, tid in enumerate(np.asarray(ids[:]).tolist())}


def read_label_sources(root: zarr.Group) -> dict[str, str]:
    """{id: "file:line"} for labels written with sources (stores before merging have none)."""
    if L.LABELS not in root or SOURCES not in group_at(root, L.LABELS):
        return {}
    group = group_at(root, L.LABELS)
    id_array = array_at(group, "ids")
    if id_array.shape[0] == 0:
        return {}
    ids = [str(t) for t in np.asarray(id_array[:]).tolist()]
    sources = np.asarray(array_at(group, SOURCES)[:]).tolist()
    return dict(zip(ids, (str(s) for s in sources), strict=True))


def merge_labels(
    root: zarr.Group, labels: Mapping[str, Sequence[str]], sources: Mapping[str, str]
) -> tuple[int, int]:
    """Add {id: [names]} to the stored labels; -> (ids added, ids already there and equal).

    Raises LabelError before writing anything when an id is stored with other names.
    """
    old_names, old_vectors = read_labels(root)
    old_sources = read_label_sources(root)
    merged: dict[str, list[str]] = {
        tid: [old_names[i] for i in np.flatnonzero(vector)] for tid, vector in old_vectors.items()
    }
    conflicts, added, same = [], 0, 0
    for tid in sorted(labels):
        new = sorted(set(labels[tid]))
        if tid not in merged:
            merged[tid] = new
            added += 1
        elif sorted(merged[tid]) == new:
            same += 1
        else:
            earlier = old_sources.get(tid) or "labels stored earlier"
            conflicts.append(
                f"{tid!r}: {sorted(merged[tid])} from {earlier}, {new} from "
                f"{sources.get(tid, 'the new labels')}"
            )
    if conflicts:
        more = f"; and {len(conflicts) - SHOWN} more" if len(conflicts) > SHOWN else ""
        raise LabelError(
            f"{len(conflicts)} trailer{'s are' if len(conflicts) > 1 else ' is'} already "
            "labelled differently in the store: "
            f"{'; '.join(conflicts[:SHOWN])}{more}. Fix the labels file, or replace the "
            "store's labels with it (cinefeat extract --replace-labels)"
        )
    extra = sorted({n for names in labels.values() for n in names} - set(old_names))
    names = sorted([*old_names, *extra]) if old_names == sorted(old_names) else old_names + extra
    kept = {tid: source for tid, source in old_sources.items() if source}  # the first source wins
    write_labels(root, names, merged, {**dict(sources), **kept})
    return added, same


def multi_hot(
    label_names: list[str], labels: Mapping[str, Sequence[str] | np.ndarray]
) -> tuple[list[str], np.ndarray]:
    """(sorted ids, (N, C) uint8) from names per id or ready multi-hot vectors."""
    if len(set(label_names)) != len(label_names):
        raise LabelError(f"label names repeat: {label_names}: give each label once")
    column = {name: i for i, name in enumerate(label_names)}
    ids = sorted(labels)
    matrix = np.zeros((len(ids), len(label_names)), dtype=np.uint8)
    for row, tid in enumerate(ids):
        value = labels[tid]
        if isinstance(value, np.ndarray) and value.dtype != object:
            if value.shape != (len(label_names),):
                raise LabelError(
                    f"trailer {tid!r}: multi-hot vector of shape {value.shape} but "
                    f"{len(label_names)} label names: give one 0/1 per label name"
                )
            matrix[row] = value != 0
            continue
        if isinstance(value, str):
            raise LabelError(f"trailer {tid!r}: labels must be a list of names, got {value!r}")
        for name in value:
            if name not in column:
                raise LabelError(
                    f"trailer {tid!r}: label {name!r} is not among the label names "
                    f"{label_names}: add it to label_names or fix the spelling"
                )
            matrix[row, column[name]] = 1
    return ids, matrix


def write_labels(
    root: zarr.Group,
    label_names: list[str],
    labels: Mapping[str, Sequence[str] | np.ndarray],
    sources: Mapping[str, str] | None = None,
) -> None:
    """Replace the labels (and their sources: `file:line` per id, "" where unknown)."""
    ids, matrix = multi_hot(label_names, labels)
    group = root.create_group(L.LABELS, overwrite=True)
    chunk = max(1, min(len(ids), 65536))
    group.create_array("ids", shape=(len(ids),), chunks=(chunk,), dtype=str)
    group.create_array(
        "multi_hot",
        shape=matrix.shape,
        chunks=(chunk, max(1, matrix.shape[1])),
        dtype="uint8",
    )
    if sources is not None:
        group.create_array(SOURCES, shape=(len(ids),), chunks=(chunk,), dtype=str)
    if ids:
        array_at(group, "ids")[:] = np.array(ids, dtype=object)
        array_at(group, "multi_hot")[:] = matrix
        if sources is not None:
            array_at(group, SOURCES)[:] = np.array([sources.get(t, "") for t in ids], dtype=object)
    group.attrs[L.LABEL_NAMES_ATTR] = list(label_names)  # written last: labels are complete


def read_splits(root: zarr.Group) -> dict[str, dict[str, list[str]]]:
    if L.SPLITS not in root:
        return {}
    group = group_at(root, L.SPLITS)
    return {
        name: {subset: [str(t) for t in ids] for subset, ids in attr_dict(group, name).items()}
        for name in group.attrs.asdict()
    }


def write_split(root: zarr.Group, name: str, subsets: Mapping[str, Sequence[str]]) -> None:
    group = root.require_group(L.SPLITS)
    group.attrs[name] = {subset: sorted(str(t) for t in ids) for subset, ids in subsets.items()}
