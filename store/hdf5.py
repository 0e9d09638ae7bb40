"""HDF5 export and import: the whole store in one file, same ragged layout, readable with h5py.

Layout (format "cinefeat-store-hdf5", version 1):
    /                    attrs: format, format_version, store (JSON of the root attribute)
    /trailers/ids, records (JSON), status, committed_at
    /features/<name>/values (rows, dim), spans (rows, 2), ids, offsets (entries, 2), texts
                         attrs: provenance (JSON)
    /labels/ids, multi_hot      attrs: label_names (JSON)
    /splits              attrs: <split name> (JSON of {subset: [ids]})
Import rebuilds a store with one part from the file and refuses a file that breaks the layout,
naming the dataset and the problem, before writing anything.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cinefeat.store import layout as L
from cinefeat.store.arrays import create_part
from cinefeat.store.canonical import FeatureTable, TrailerTable, feature_table, trailer_table
from cinefeat.store.compact import check_copied, commit_counts, write_feature, write_trailers
from cinefeat.store.console import progress
from cinefeat.store.digests import RowDigests
from cinefeat.store.errors import Hdf5FormatError, NotAStoreError
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.labels import read_labels, write_labels
from cinefeat.store.record import TrailerRecord

HDF5_FORMAT = "cinefeat-store-hdf5"
HDF5_VERSION = 1
IMPORT_RUN = "import"
_STR = h5py.string_dtype("utf-8")


def _strings(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


def export_hdf5(store: FeatureStore, out: str | Path, row_chunk: int = 1024) -> Path:
    """Write everything a reader of `store` sees into one HDF5 file `out` (overwritten)."""
    out = Path(out)
    index = store.index
    tmp = out.with_name(out.name + f".{uuid.uuid4().hex[:8]}.partial")
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format"] = HDF5_FORMAT
            h5.attrs["format_version"] = HDF5_VERSION
            h5.attrs["store"] = json.dumps(store.root.attrs.get(L.ROOT_ATTR, {}))
            trailers = trailer_table(index)
            group = h5.create_group(L.TRAILERS)
            group.create_dataset(L.TRAILER_IDS, data=_strings(trailers.ids), dtype=_STR)
            group.create_dataset(L.TRAILER_RECORDS, data=_strings(trailers.records), dtype=_STR)
            group.create_dataset(L.TRAILER_STATUS, data=_strings(trailers.status), dtype=_STR)
            group.create_dataset(L.TRAILER_COMMITTED_AT, data=trailers.committed_at)
            features = h5.create_group(L.FEATURES)
            for name in progress(store.features(), desc="export-hdf5", unit="feature"):
                table = feature_table(store.feature_index(name), name)
                _export_feature(features.create_group(name), table, row_chunk)
            names, labels = read_labels(store.root)
            if names:
                lab = h5.create_group(L.LABELS)
                lab.attrs[L.LABEL_NAMES_ATTR] = json.dumps(names)
                ids = sorted(labels)
                lab.create_dataset("ids", data=_strings(ids), dtype=_STR)
                matrix = np.array([labels[t] for t in ids], dtype=np.uint8).reshape(-1, len(names))
                lab.create_dataset("multi_hot", data=matrix)
            splits = h5.create_group(L.SPLITS)
            for name, subsets in store.splits().items():
                splits.attrs[name] = json.dumps(subsets)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _export_feature(group: h5py.Group, table: FeatureTable, row_chunk: int) -> None:
    group.attrs[L.PROVENANCE_ATTR] = json.dumps(table.provenance)
    chunks = (max(1, min(row_chunk, table.rows)), table.dim) if table.rows else None
    values = group.create_dataset(
        L.VALUES, shape=(table.rows, table.dim), dtype=table.dtype, chunks=chunks
    )
    spans = group.create_dataset(L.SPANS, shape=(table.rows, 2), dtype=np.float64)
    row = 0
    digests = RowDigests(table.offsets)
    for v, s in table.blocks():
        digests.feed(np.asarray(v, dtype=table.dtype), np.asarray(s, dtype=np.float64))
        values[row : row + len(v)] = v
        spans[row : row + len(v)] = s
        row += len(v)
    table.digests = digests.result()
    check_copied(table)  # damaged rows are not exported as data
    group.create_dataset(L.ENTRY_IDS, data=_strings(table.ids), dtype=_STR)
    group.create_dataset(L.OFFSETS, data=table.offsets.astype(np.int64))
    group.create_dataset(L.TEXTS, data=_strings(table.texts), dtype=_STR)


# -- import ---------------------------------------------------------------------------------------


def _need(h5: h5py.Group, key: str, where: str) -> Any:
    if not isinstance(h5, h5py.Group):
        raise Hdf5FormatError(
            f"{where} is a dataset where a group was expected: the file is damaged"
        )
    if key not in h5:
        raise Hdf5FormatError(
            f"{where}: missing '{key}': this file does not follow the cinefeat HDF5 layout "
            "(export one with `cinefeat store export-hdf5`)"
        )
    return h5[key]


def _read_strings(dataset: h5py.Dataset) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in dataset[()].tolist()]


def _json_attr(obj: h5py.HLObject, key: str, where: str) -> Any:
    try:
        return json.loads(obj.attrs[key])
    except (KeyError, TypeError, ValueError) as error:
        raise Hdf5FormatError(
            f"{where}: attribute '{key}' is missing or not JSON ({error})"
        ) from None


def _check_feature(group: h5py.Group, name: str) -> tuple[FeatureTable, h5py.Dataset, h5py.Dataset]:
    where = f"/features/{name}"
    try:
        L.check_name("feature", name)
    except ValueError as error:
        raise Hdf5FormatError(f"{where}: {error}") from None
    if not isinstance(group, h5py.Group):
        raise Hdf5FormatError(f"{where} is a dataset, not a group: the file is damaged")
    provenance = _json_attr(group, L.PROVENANCE_ATTR, where)
    if not isinstance(provenance, dict):
        raise Hdf5FormatError(f"{where}: attribute 'provenance' must be a JSON object")
    values = _need(group, L.VALUES, where)
    spans = _need(group, L.SPANS, where)
    ids = _read_strings(_need(group, L.ENTRY_IDS, where))
    offsets = np.asarray(_need(group, L.OFFSETS, where)[()], dtype=np.int64).reshape(-1, 2)
    texts = _read_strings(_need(group, L.TEXTS, where))
    dim = provenance.get("dim")
    if values.ndim != 2 or values.shape[1] != dim:
        raise Hdf5FormatError(
            f"{where}/values has shape {values.shape} but provenance says dim {dim}: "
            "the file is damaged or was edited; export it again"
        )
    if str(values.dtype) not in L.VALUE_DTYPES or str(values.dtype) != provenance.get("dtype"):
        raise Hdf5FormatError(
            f"{where}/values dtype {values.dtype} does not match provenance dtype "
            f"{provenance.get('dtype')!r} (supported: {L.VALUE_DTYPES})"
        )
    if spans.shape != (values.shape[0], 2):
        raise Hdf5FormatError(f"{where}/spans has shape {spans.shape}, expected ({len(values)}, 2)")
    if not (len(ids) == len(offsets) == len(texts)):
        raise Hdf5FormatError(
            f"{where}: {len(ids)} ids, {len(offsets)} offsets and {len(texts)} texts: "
            "every entry needs one of each"
        )
    lengths = offsets[:, 1] - offsets[:, 0]
    expected_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    bad = np.flatnonzero((lengths < 0) | (offsets[:, 0] != expected_starts))
    if len(bad) or int(lengths.sum()) != values.shape[0]:
        which = ids[int(bad[0])] if len(bad) else "(total)"
        raise Hdf5FormatError(
            f"{where}: offsets do not tile the {values.shape[0]} rows (first bad entry: "
            f"{which!r}): the file is damaged; export it again"
        )
    if len(set(ids)) != len(ids):
        raise Hdf5FormatError(f"{where}: a trailer id appears twice in 'ids'")
    table = FeatureTable(
        name=name,
        provenance=provenance,
        dim=int(dim),
        dtype=np.dtype(values.dtype),
        ids=ids,
        lengths=lengths,
        texts=texts,
        sources=[],
    )
    return table, values, spans


def _check_trailers(trailers: TrailerTable) -> None:
    seen: set[str] = set()
    for i, (tid, text, status) in enumerate(
        zip(trailers.ids, trailers.records, trailers.status, strict=True)
    ):
        if not tid or tid in seen:
            raise Hdf5FormatError(
                f"/trailers/ids[{i}] is {'empty' if not tid else f'{tid!r} again'}: every trailer "
                "needs one record; the file is damaged, export it again"
            )
        seen.add(tid)
        try:
            record = TrailerRecord.from_json(text)
        except (ValueError, TypeError) as error:
            raise Hdf5FormatError(
                f"/trailers/records[{i}] (trailer {tid!r}) is not a valid "
                f"record ({error}): the file is damaged; export it again"
            ) from None
        if record.id != tid or record.status != status:
            raise Hdf5FormatError(
                f"/trailers/records[{i}] describes trailer {record.id!r} with status "
                f"{record.status!r}, but /trailers says {tid!r} / {status!r}: the file is damaged"
            )


def _read_h5_labels(h5: h5py.File) -> tuple[list[str], dict[str, np.ndarray]]:
    if L.LABELS not in h5:
        return [], {}
    names = _json_attr(h5[L.LABELS], L.LABEL_NAMES_ATTR, "/labels")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Hdf5FormatError("/labels: attribute 'label_names' must be a JSON list of strings")
    if len(set(names)) != len(names):
        raise Hdf5FormatError(f"/labels: label names repeat ({names}): the file is damaged")
    ids = _read_strings(_need(h5[L.LABELS], "ids", "/labels"))
    matrix = np.asarray(_need(h5[L.LABELS], "multi_hot", "/labels")[()])
    if matrix.shape != (len(ids), len(names)):
        raise Hdf5FormatError(
            f"/labels/multi_hot has shape {matrix.shape}, expected ({len(ids)}, {len(names)})"
        )
    if len(set(ids)) != len(ids):
        raise Hdf5FormatError("/labels/ids: a trailer id appears twice")
    return list(names), {t: matrix[i] for i, t in enumerate(ids)}


def _read_h5_splits(h5: h5py.File) -> dict[str, dict[str, list[str]]]:
    if L.SPLITS not in h5:
        return {}
    splits: dict[str, dict[str, list[str]]] = {}
    for name in h5[L.SPLITS].attrs:
        where = f"/splits attribute {name!r}"
        subsets = _json_attr(h5[L.SPLITS], name, "/splits")
        try:
            L.check_name("split", name)
        except ValueError as error:
            raise Hdf5FormatError(f"{where}: {error}") from None
        if not isinstance(subsets, dict) or not all(
            isinstance(ids, list) and all(isinstance(t, str) for t in ids)
            for ids in subsets.values()
        ):
            raise Hdf5FormatError(f"{where} must be a JSON object of lists of trailer ids")
        owner: dict[str, str] = {}
        for subset, ids in subsets.items():
            for tid in ids:
                if owner.setdefault(tid, subset) != subset:
                    raise Hdf5FormatError(
                        f"{where}: trailer {tid!r} is in both {owner[tid]!r} and {subset!r}"
                    )
        splits[name] = subsets
    return splits


def _h5_blocks(
    values: h5py.Dataset, spans: h5py.Dataset, block: int = 65536
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for b0 in range(0, values.shape[0], block):
        yield values[b0 : b0 + block], spans[b0 : b0 + block]


def import_hdf5(
    source: str | Path, path: str | Path, rows_per_shard: int | None = None
) -> FeatureStore:
    """Create a store at `path` (new, or existing and empty) from an exported HDF5 file."""
    source = Path(source)
    try:
        h5 = h5py.File(source, "r")
    except OSError as error:
        raise Hdf5FormatError(f"{source} is not a readable HDF5 file ({error})") from None
    with h5:
        if h5.attrs.get("format") != HDF5_FORMAT:
            raise Hdf5FormatError(
                f"{source} is not a cinefeat HDF5 export (attribute format="
                f"{h5.attrs.get('format')!r}): export one with `cinefeat store export-hdf5`"
            )
        version = int(h5.attrs.get("format_version", -1))
        if version > HDF5_VERSION or version < 1:
            raise Hdf5FormatError(
                f"{source} has HDF5 format version {version}; this cinefeat reads up to "
                f"{HDF5_VERSION}: upgrade cinefeat"
            )
        trailers_group = _need(h5, L.TRAILERS, "/")
        trailers = TrailerTable(
            ids=_read_strings(_need(trailers_group, L.TRAILER_IDS, "/trailers")),
            records=_read_strings(_need(trailers_group, L.TRAILER_RECORDS, "/trailers")),
            status=_read_strings(_need(trailers_group, L.TRAILER_STATUS, "/trailers")),
            committed_at=np.asarray(
                _need(trailers_group, L.TRAILER_COMMITTED_AT, "/trailers")[()], dtype=np.float64
            ),
        )
        n = len(trailers.ids)
        if not (len(trailers.records) == len(trailers.status) == len(trailers.committed_at) == n):
            raise Hdf5FormatError(f"{source}: /trailers datasets have different lengths")
        _check_trailers(trailers)
        features = _need(h5, L.FEATURES, "/")
        checked = {name: _check_feature(features[name], name) for name in sorted(features)}
        known = set(trailers.ids)
        for name, (table, _, _) in checked.items():
            orphans = [t for t in table.ids if t not in known]
            if orphans:
                raise Hdf5FormatError(
                    f"/features/{name} has rows of trailer {orphans[0]!r}, which has no record "
                    f"in /trailers ({len(orphans)} such): the file is damaged; export it again"
                )
        label_names, labels = _read_h5_labels(h5)
        splits = _read_h5_splits(h5)

        store = FeatureStore.open_or_create(path)
        if store.ids() or store.features():
            raise NotAStoreError(
                f"{store.path} already holds trailers: import into a new path "
                "(merging stores is not supported)"
            )
        name = f"{IMPORT_RUN}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        root = store.writable_root()
        part = create_part(root.require_group(L.PARTS), name, IMPORT_RUN, "0")
        write_trailers(part, trailers)
        tables = []
        for table, values, spans in progress(checked.values(), desc="import-hdf5", unit="feature"):
            write_feature(part, table, rows_per_shard, blocks=_h5_blocks(values, spans))
            tables.append(table)
        part.attrs[L.COMMIT_ATTR] = commit_counts(tables, n)
        if label_names:
            write_labels(root, label_names, labels)
        for split_name, subsets in splits.items():
            store.set_split(split_name, subsets)
    store.refresh()
    return store
