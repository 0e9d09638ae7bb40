"""`validate`: read every committed byte of a store and report what is wrong, by trailer.

Checks: part metadata readable; committed counts within array sizes; offsets inside the rows and
not overlapping; the same (trailer, feature) committed in several parts; chunk files that are
missing (zarr would silently read zeros) or unreadable (truncated, corrupt); NaN/Inf values;
non-finite or reversed spans; dims and dtypes that disagree with provenance; records that do not
parse. Before any of that, the part-level checks of `part_checks.py`: part folders whose
metadata is damaged or missing, replaced parts still holding trailers the live parts lack (all
errors: committed rows that readers cannot reach), parts open by a live writer or left stale by
a dead one, and consolidated-metadata snapshots (warnings). Errors make `cinefeat store
validate` exit non-zero; warnings do not. Validate never raises on a damaged store: whatever
cannot be read becomes an error naming the file or part.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import zarr
from zarr.core.sync import sync

from cinefeat.store import layout as L
from cinefeat.store.canonical import storage_rows
from cinefeat.store.console import progress
from cinefeat.store.digests import RowDigests
from cinefeat.store.errors import StoreIntegrityError
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.index import (
    FeaturePart,
    Part,
    StoreIndex,
    list_parts,
    read_part,
    superseded_parts,
)
from cinefeat.store.nodes import array_at, group_at
from cinefeat.store.part_checks import (
    check_consolidated,
    check_leases,
    check_leftovers,
    check_listing,
)
from cinefeat.store.provenance import hash_problem, incompatibilities
from cinefeat.store.record import TrailerRecord
from cinefeat.store.zipmembers import damaged_members

Severity = Literal["error", "warning"]


@dataclass
class Problem:
    kind: str
    message: str
    part: str | None = None
    feature: str | None = None
    trailer: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = "/".join(x for x in (self.part, self.feature) if x)
        who = f" trailer {self.trailer!r}:" if self.trailer else ""
        return f"[{self.severity}] {self.kind} ({where}){who} {self.message}"


@dataclass
class ValidationReport:
    path: str
    parts: int = 0
    trailers: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # ok / partial / failed trailers

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def add(self, kind: str, message: str, **where: Any) -> None:
        self.problems.append(Problem(kind, message, **where))

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "parts": self.parts,
            "trailers": self.trailers,
            "outcomes": self.outcomes,
            "rows": self.rows,
            "problems": [asdict(p) for p in self.problems],
        }


def validate(store: FeatureStore, check_values: bool = True) -> ValidationReport:
    """Check the whole store; `check_values=False` skips reading the value rows (fast).

    An archive folder (`FeatureStore.open` of it) is checked zip by zip; each problem's part is
    prefixed with the zip it was found in.
    """
    if hasattr(store, "feature_stores"):
        return _validate_archive(store, check_values)
    report = ValidationReport(str(store.path))
    root = store.root
    if L.PARTS not in root:
        report.add("format", "no 'parts' group: the store was not created by cinefeat")
        return report
    listing = list_parts(root)
    superseded = superseded_parts(listing.groups)
    check_listing(listing, superseded, report)
    parts: list[Part] = []
    leftovers = []
    for name, group in listing.groups:
        if name in superseded:
            leftovers.append((name, group))
            continue
        try:
            parts.append(read_part(name, group))
        except Exception as error:  # any damage to a part's metadata or index arrays
            report.add("format", f"cannot read the part's index: {error}", part=name)
    check_leftovers(StoreIndex.from_parts(parts), leftovers, report)
    check_leases(store.path, [(n, g) for n, g in listing.groups if n not in superseded], report)
    check_consolidated(root, [n for n, _ in listing.groups], report)
    report.parts = len(parts)
    if check_values and L.is_zip(store.path):
        for member, why in damaged_members(store.path):
            bits = member.split("/")
            owner = bits[1] if len(bits) > 2 and bits[0] == L.PARTS else None
            report.add(
                "zip-crc", f"zip member {member} {why}: download the archive again", part=owner
            )
    owners: dict[tuple[str, str], list[str]] = defaultdict(list)
    for part in progress(parts, desc="validate", unit="part"):
        try:
            _check_trailers(part, report)
            for fname, fpart in part.features.items():
                for tid in fpart.ids:
                    owners[(tid, fname)].append(part.name)
                _check_feature(part, fname, fpart, report, check_values)
        except Exception as error:  # damage no check foresaw: report it, never crash
            report.add(
                "format",
                f"cannot be checked ({type(error).__name__}: {error}): the part is damaged",
                part=part.name,
            )
    for (tid, fname), names in sorted(owners.items()):
        if len(names) > 1:
            report.add(
                "duplicate",
                f"rows committed in {len(names)} parts {names}; readers use the last committed: "
                "`cinefeat store compact` keeps only that one",
                feature=fname,
                trailer=tid,
            )
    _check_provenance_agrees(parts, report)
    _check_hashes(parts, report)
    report.trailers = len({tid for part in parts for tid in part.ids})
    store.refresh()
    report.outcomes = _outcomes(store, report)
    return report


def _outcomes(store: Any, report: ValidationReport) -> dict[str, int]:
    """How many trailers are ok, partial (some features failed) or failed, by their records."""
    if not report.ok:  # the errors above already say why the records cannot be trusted
        return {}
    counts = {"ok": 0, "partial": 0, "failed": 0}
    try:
        for tid in store.ids():
            counts[store.record(tid).outcome] += 1
    except Exception as error:  # damage is reported above; counting must not crash validate
        report.add("records", f"could not count trailer outcomes: {type(error).__name__}: {error}")
    return counts


def _validate_archive(archive: Any, check_values: bool) -> ValidationReport:
    report = ValidationReport(str(archive.path))
    for store in [archive.metadata, *archive.stores()]:
        sub = validate(store, check_values)
        report.parts += sub.parts
        for name, rows in sub.rows.items():
            report.rows[name] = report.rows.get(name, 0) + rows
        for problem in sub.problems:
            problem.part = f"{store.path.name}:{problem.part}" if problem.part else store.path.name
            report.problems.append(problem)
    report.trailers = len(archive)
    return report


def _check_trailers(part: Part, report: ValidationReport) -> None:
    count = len(part.ids)
    if not count:
        return
    trailers = group_at(part.group, L.TRAILERS)
    for name in (L.TRAILER_IDS, L.TRAILER_RECORDS, L.TRAILER_STATUS, L.TRAILER_COMMITTED_AT):
        array = array_at(trailers, name)
        _check_chunks(array, count, report, part=part.name, what=f"trailers/{name}")
    for pos, tid in enumerate(part.ids):
        try:
            TrailerRecord.from_json(part.record_json(pos))
        except Exception as error:
            report.add("record", f"record does not parse: {error}", part=part.name, trailer=tid)
    if len(set(part.ids)) != count:
        seen: set[str] = set()
        for tid in part.ids:
            if tid in seen:
                report.add(
                    "duplicate", "record committed twice in one part", part=part.name, trailer=tid
                )
            seen.add(tid)


def _check_feature(
    part: Part, name: str, fpart: FeaturePart, report: ValidationReport, check_values: bool
) -> None:
    where = {"part": part.name, "feature": name}
    if fpart.damage:  # the offsets cannot be trusted: name what can be named, read no rows
        report.add("offsets", fpart.damage, **where)
    values, spans = fpart.values, fpart.spans
    prov = fpart.provenance
    if values.ndim != 2 or values.shape[1] != prov.get("dim"):
        report.add(
            "dim", f"values have shape {values.shape}, provenance dim {prov.get('dim')}", **where
        )
    if str(values.dtype) != prov.get("dtype"):
        report.add(
            "dtype", f"values dtype {values.dtype}, provenance {prov.get('dtype')!r}", **where
        )
    if values.shape[0] < fpart.rows or spans.shape[0] < fpart.rows:
        report.add(
            "offsets",
            f"commit says {fpart.rows} rows but values/spans hold "
            f"{values.shape[0]}/{spans.shape[0]}",
            **where,
        )
        return
    report.rows[name] = report.rows.get(name, 0) + fpart.rows
    offsets = fpart.offsets
    starts, stops = offsets[:, 0], offsets[:, 1]
    bad = (starts < 0) | (stops < starts) | (stops > fpart.rows)
    for i in np.flatnonzero(bad):
        report.add(
            "offsets",
            f"offsets [{starts[i]}, {stops[i]}) are outside the {fpart.rows} committed rows",
            trailer=fpart.ids[i],
            **where,
        )
    order = np.argsort(starts, kind="stable")
    overlap = np.flatnonzero(starts[order][1:] < stops[order][:-1])
    for i in overlap:
        report.add(
            "offsets",
            "rows overlap those of another trailer",
            trailer=fpart.ids[order[i + 1]],
            **where,
        )
    if fpart.damage:
        return
    for array_name, array, count in (
        (L.VALUES, values, fpart.rows),
        (L.SPANS, spans, fpart.rows),
        (L.ENTRY_IDS, array_at(fpart.group, L.ENTRY_IDS), len(fpart.ids)),
        (L.OFFSETS, array_at(fpart.group, L.OFFSETS), len(fpart.ids)),
        (L.TEXTS, fpart.texts, len(fpart.ids)),
    ):
        missing = _check_chunks(array, count, report, what=f"{name}/{array_name}", **where)
        if array_name in (L.VALUES, L.SPANS):
            for r0, r1 in missing:
                for tid in _trailers_in(fpart, r0, r1):
                    report.add(
                        "missing-chunk",
                        f"{array_name} rows [{r0}, {r1}) have no chunk "
                        "file (they would read as zeros): re-extract this trailer",
                        trailer=tid,
                        **where,
                    )
    if check_values:
        _check_rows(fpart, report, where)


def _check_rows(fpart: FeaturePart, report: ValidationReport, where: dict[str, str]) -> None:
    """NaN/Inf values, bad spans, unreadable chunks and, in the same pass, every entry's digests."""
    step = storage_rows(fpart.values)
    step = max(step, (1 << 16) // step * step)
    digests: RowDigests | None = RowDigests(fpart.offsets)
    for r0 in range(0, fpart.rows, step):
        r1 = min(fpart.rows, r0 + step)
        blocks: dict[str, np.ndarray] = {}
        for array_name, array in ((L.VALUES, fpart.values), (L.SPANS, fpart.spans)):
            try:
                block = np.asarray(array[r0:r1])
            except Exception:
                _report_unreadable(fpart, array_name, array, r0, r1, report, where)
                continue
            blocks[array_name] = block
            bad_rows = ~np.isfinite(block.astype(np.float32)).all(axis=1)
            if array_name == L.SPANS:
                bad_rows |= block[:, 1] < block[:, 0]
            for row in np.flatnonzero(bad_rows):
                kind = "nan" if np.isnan(block[row].astype(np.float32)).any() else "inf"
                if array_name == L.SPANS:
                    kind = "spans"
                tid = next(iter(_trailers_in(fpart, r0 + row, r0 + row + 1)), None)
                report.add(
                    kind,
                    f"{array_name} row {r0 + row} is {block[row].tolist()[:4]}...",
                    trailer=tid,
                    **where,
                )
        if digests is not None and len(blocks) == 2:
            digests.feed(blocks[L.VALUES], blocks[L.SPANS])
        else:
            digests = None  # unreadable rows are reported above; their digests cannot be had
    if digests is not None:
        _check_digests(fpart, digests.result(), report, where)


def _check_digests(
    fpart: FeaturePart, got: np.ndarray, report: ValidationReport, where: dict[str, str]
) -> None:
    try:
        recorded = fpart.digests
    except StoreIntegrityError as error:
        report.add("digests", str(error), **where)
        return
    if recorded is None:
        return  # written before digests: nothing to compare with
    for i in np.flatnonzero((recorded != got).any(axis=1)):
        what = "values" if recorded[i, 0] != got[i, 0] else "spans"
        report.add(
            "checksum",
            f"the {what} rows do not match the crc32 recorded at commit: the bytes changed "
            "after writing; re-extract this trailer",
            trailer=fpart.ids[i],
            **where,
        )


def _report_unreadable(
    fpart: FeaturePart,
    array_name: str,
    array: zarr.Array,
    r0: int,
    r1: int,
    report: ValidationReport,
    where: dict[str, str],
) -> None:
    """Narrow a failed block read down to the chunks that fail, and name their trailers."""
    step = int(array.chunks[0])
    for c0 in range(r0 // step * step, r1, step):
        a, b = max(r0, c0), min(r1, c0 + step)
        try:
            array[a:b]
        except Exception as error:
            for tid in _trailers_in(fpart, a, b):
                report.add(
                    "unreadable-chunk",
                    f"{array_name} rows [{a}, {b}) cannot be read "
                    f"({type(error).__name__}: {error}): re-extract this trailer",
                    trailer=tid,
                    **where,
                )


def _trailers_in(fpart: FeaturePart, r0: int, r1: int) -> list[str]:
    starts, stops = fpart.offsets[:, 0], fpart.offsets[:, 1]
    hit = np.flatnonzero((starts < r1) & (stops > r0))
    return [fpart.ids[i] for i in hit]


def _check_chunks(
    array: zarr.Array, count: int, report: ValidationReport, what: str, **where: Any
) -> list[tuple[int, int]]:
    """Row ranges [r0, r1) below `count` whose storage object (chunk or shard) is absent."""
    rows = storage_rows(array)
    store = array.store_path.store
    missing = []
    for i in range(-(-count // rows)):
        coords = (i,) + (0,) * (array.ndim - 1)
        key = f"{array.path}/{array.metadata.encode_chunk_key(coords)}"
        if not sync(store.exists(key)):
            r0, r1 = i * rows, min(count, (i + 1) * rows)
            missing.append((r0, r1))
            if what.split("/")[-1] not in (L.VALUES, L.SPANS):
                report.add("missing-chunk", f"{what} rows [{r0}, {r1}) have no chunk file", **where)
    return missing


def _check_provenance_agrees(parts: list[Part], report: ValidationReport) -> None:
    first: dict[str, tuple[str, dict[str, Any]]] = {}
    for part in parts:
        for name, fpart in part.features.items():
            if name not in first:
                first[name] = (part.name, fpart.provenance)
                continue
            other_part, other = first[name]
            diffs = incompatibilities(other, fpart.provenance)
            if diffs:
                report.add(
                    "provenance",
                    f"differs from part {other_part} on {diffs}: rows are "
                    "not comparable; store them under another feature name",
                    part=part.name,
                    feature=name,
                )


def _check_hashes(parts: list[Part], report: ValidationReport) -> None:
    """The recorded `config_hash` of every feature of every part is recomputed."""
    for part in parts:
        for name, fpart in part.features.items():
            found = hash_problem(fpart.provenance)
            if found is not None:
                severity, message = found
                report.add("provenance-hash", message, part=part.name, feature=name,
                           severity=severity)  # fmt: skip
