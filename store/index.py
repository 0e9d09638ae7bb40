"""The in-memory index of a store: which committed rows belong to which trailer, in which part.

Opening a store reads only the small index arrays of each part (ids, offsets, status, commit
times), sliced to the part's committed counts, so an uncommitted tail is never seen. Records are
kept as JSON strings and parsed on demand, so opening a 50,000-trailer store stays cheap.
Conflicts are resolved the same way everywhere: the entry committed last wins (validate reports
an (id, feature) pair present in several parts as a duplicate).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync

from cinefeat.store import layout as L
from cinefeat.store.digests import DIGESTS_CRC, check_entry, crc32, offsets_damage
from cinefeat.store.directio import RowReader
from cinefeat.store.errors import StoreFormatError, StoreIntegrityError
from cinefeat.store.lease import LEASE
from cinefeat.store.nodes import array_at, attr_dict, group_at, read_slice
from cinefeat.store.record import TrailerRecord


@dataclass
class FeaturePart:
    """Committed entries of one feature in one part."""

    group: zarr.Group
    provenance: dict[str, Any]
    ids: list[str]
    offsets: np.ndarray  # (entries, 2) int64, [start, stop) into this part's values
    rows: int
    part: str = ""
    name: str = ""
    counts: dict[str, Any] = field(default_factory=dict)  # this feature's commit record
    damage: str = ""  # why the offsets cannot be trusted ("" when they can)
    _digests: np.ndarray | None = None
    _values: zarr.Array | None = None
    _spans: zarr.Array | None = None
    _texts: zarr.Array | None = None
    _value_reader: RowReader | None = None
    _span_reader: RowReader | None = None
    _text_chunks: dict[int, list[str]] = field(default_factory=dict)

    @property
    def values(self) -> zarr.Array:
        if self._values is None:
            self._values = array_at(self.group, L.VALUES)
        return self._values

    @property
    def spans(self) -> zarr.Array:
        if self._spans is None:
            self._spans = array_at(self.group, L.SPANS)
        return self._spans

    @property
    def texts(self) -> zarr.Array:
        if self._texts is None:
            self._texts = array_at(self.group, L.TEXTS)
        return self._texts

    def require_intact(self, trailer: str | None = None) -> None:
        """Raise `StoreIntegrityError` when the offsets, dim or dtypes contradict the commit and
        provenance: rows read through them would be garbage (`trailer`: the one being read)."""
        reading = f" (reading trailer {trailer!r})" if trailer is not None else ""
        if self.damage:
            raise StoreIntegrityError(self.damage + reading)
        where = f"part {self.part!r}, feature {self.name!r}{reading}"
        dtype, dim = self.provenance.get("dtype"), self.provenance.get("dim")
        if str(self.values.dtype) != dtype or self.values.ndim != 2 or self.values.shape[1] != dim:
            raise StoreIntegrityError(
                f"{where}: values are {self.values.dtype} {self.values.shape}, the part recorded "
                f"{dtype} with dim {dim} ({L.VALUES}/zarr.json was changed): its bytes would be "
                "read as other numbers; restore the file or re-extract the feature"
            )
        if self.spans.dtype != np.float64 or self.spans.ndim != 2 or self.spans.shape[1] != 2:
            raise StoreIntegrityError(
                f"{where}: spans are {self.spans.dtype} {self.spans.shape}, not float64 (R, 2) "
                f"({L.SPANS}/zarr.json was changed): restore the file or re-extract the feature"
            )

    @property
    def digests(self) -> np.ndarray | None:
        """(entries, 2) uint32 digests recorded at commit; None for parts written without them.

        Checked against the commit record's crc when first read, so a lost `digests` chunk is
        reported as such instead of making every trailer look damaged.
        """
        if self._digests is None and DIGESTS_CRC in self.counts:
            entries = len(self.ids)
            raw = array_at(self.group, L.DIGESTS)[:entries] if entries else np.zeros((0, 2))
            digests = np.asarray(raw, dtype=np.uint32).reshape(-1, 2)
            if crc32(digests) != int(self.counts[DIGESTS_CRC]):
                raise StoreIntegrityError(
                    f"part {self.part!r}, feature {self.name!r}: the {L.DIGESTS} array does not "
                    "match the crc32 of the commit record (a chunk is missing or changed): the "
                    "rows cannot be checked; restore the part from a backup or re-extract it"
                )
            self._digests = digests
        return self._digests

    def verify(self, position: int, values: np.ndarray, spans: np.ndarray) -> None:
        """Raise unless entry `position`'s rows as read match its digests (if recorded)."""
        digests = self.digests
        if digests is not None:
            check_entry(self.part, self.name, self.ids[position], digests[position], values, spans)

    def read_rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(values, spans) of rows [start, stop): one byte-range read each on a local store."""
        if self._value_reader is None or self._span_reader is None:
            self._value_reader = RowReader(self.values)
            self._span_reader = RowReader(self.spans)
        return self._value_reader.read(start, stop), self._span_reader.read(start, stop)

    def text(self, position: int) -> str:
        """The JSON texts of entry `position` (decoded a chunk of entries at a time, cached)."""
        size = int(self.texts.chunks[0])
        chunk = position // size
        if chunk not in self._text_chunks:
            stop = min(len(self.ids), (chunk + 1) * size)
            texts = read_slice(self.texts, chunk * size, stop)
            self._text_chunks[chunk] = [str(t) for t in texts.tolist()]
        return self._text_chunks[chunk][position - chunk * size]


@dataclass
class Part:
    """One part's committed index."""

    name: str
    group: zarr.Group
    info: dict[str, Any]
    commit: dict[str, Any]
    ids: list[str]
    status: np.ndarray
    committed_at: np.ndarray
    features: dict[str, FeaturePart]
    _records: list[str] | None = None

    def record_json(self, position: int) -> str:
        if self._records is None:
            count = len(self.ids)
            array = array_at(self.group, L.TRAILERS, L.TRAILER_RECORDS)
            self._records = read_slice(array, 0, count).tolist() if count else []
        return self._records[position]

    def record(self, position: int) -> TrailerRecord:
        return TrailerRecord.from_json(self.record_json(position))


def _strings(array: zarr.Array, count: int) -> list[str]:
    return [str(s) for s in read_slice(array, 0, count).tolist()] if count else []


def read_part(name: str, group: zarr.Group) -> Part:
    """The committed index of one part (arrays sliced to the commit counts)."""
    commit = group.attrs.get(L.COMMIT_ATTR)
    info = group.attrs.get(L.PART_ATTR)
    if not isinstance(commit, dict) or not isinstance(info, dict):
        raise StoreFormatError(
            f"part {name!r} has no '{L.COMMIT_ATTR}'/'{L.PART_ATTR}' attributes: it was not "
            "written by cinefeat; remove it or run `cinefeat store validate`"
        )
    # Only what the commit names is read: a writer creating its part or declaring a feature
    # right now may have written some of the arrays and not yet the others.
    count = int(commit.get("trailers", 0))
    ids: list[str] = []
    status = np.zeros(0, dtype=object)
    committed_at = np.zeros(0, dtype=np.float64)
    if count:
        trailers = group_at(group, L.TRAILERS)
        ids = _strings(array_at(trailers, L.TRAILER_IDS), count)
        status = np.array(_strings(array_at(trailers, L.TRAILER_STATUS), count), dtype=object)
        committed = array_at(trailers, L.TRAILER_COMMITTED_AT)
        committed_at = np.asarray(committed[:count], dtype=np.float64)
    features: dict[str, FeaturePart] = {}
    for fname, fcounts in sorted(commit.get("features", {}).items()):
        fgroup = group_at(group, L.FEATURES, fname)
        entries = int(fcounts.get("entries", 0))
        offsets = (
            np.asarray(array_at(fgroup, L.OFFSETS)[:entries], dtype=np.int64)
            if entries
            else np.zeros((0, 2), dtype=np.int64)
        )
        features[fname] = FeaturePart(
            group=fgroup,
            provenance=attr_dict(fgroup, L.PROVENANCE_ATTR),
            ids=_strings(array_at(fgroup, L.ENTRY_IDS), entries),
            offsets=offsets,
            rows=int(fcounts.get("rows", 0)),
            part=name,
            name=fname,
            counts=dict(fcounts),
            damage=offsets_damage(name, fname, offsets, fcounts),
        )
    return Part(name, group, dict(info), dict(commit), ids, status, committed_at, features)


def superseded_parts(groups: list[tuple[str, zarr.Group]]) -> set[str]:
    """Parts replaced by a compacted part (listed in its `part.supersedes`): never read.

    Compaction moves its finished part into `parts/` in one rename, then deletes the parts it
    replaces; until that deletion finishes, this list keeps readers from seeing both.
    """
    out: set[str] = set()
    for _, group in groups:
        info = group.attrs.get(L.PART_ATTR)
        if isinstance(info, dict):
            out.update(str(n) for n in info.get("supersedes", []))
    return out


@dataclass
class PartListing:
    """The children of `parts/`, each one readable part, damaged, or a folder without metadata.

    Why not `group.groups()`: zarr skips a folder without `zarr.json` with only a warning (so a
    part whose metadata was lost read as "0 trailers, OK"), and one unparsable `zarr.json`
    makes the whole listing raise. Here each child is opened on its own and its fate recorded.
    """

    groups: list[tuple[str, zarr.Group]] = field(default_factory=list)
    damaged: dict[str, str] = field(default_factory=dict)  # name -> why its zarr.json fails
    no_metadata: list[str] = field(default_factory=list)  # holds data but no zarr.json
    creating: list[str] = field(default_factory=list)  # empty or lease only: a writer starting
    uncommitted: list[str] = field(default_factory=list)  # a group without `commit`: skipped

    def problems(self, superseded: set[str]) -> list[str]:
        """Messages naming each damaged part, leaving out parts already being deleted."""
        out = [
            f"{L.PARTS}/{name}/zarr.json cannot be read ({why}): the part's metadata is damaged; "
            f"restore it from a backup, or move the folder {L.PARTS}/{name} out of the store "
            "to drop its trailers"
            for name, why in sorted(self.damaged.items())
            if name not in superseded
        ]
        out += [
            f"{L.PARTS}/{name}/zarr.json is missing but the folder holds data: its committed "
            f"trailers cannot be read; restore the file from a backup, or move the folder "
            f"{L.PARTS}/{name} out of the store to drop them"
            for name in self.no_metadata
            if name not in superseded
        ]
        return out


def _children(root: zarr.Group, prefix: str) -> list[str]:
    store = root.store_path.store
    base = f"{root.store_path.path}/{prefix}".strip("/")

    async def names() -> list[str]:
        return [key async for key in store.list_dir(base)]

    # leave out metadata, hidden files and zarr's in-flight atomic writes (`zarr.<hex>.partial`)
    return sorted(
        n
        for n in sync(names())
        if n != "zarr.json" and not n.startswith(".") and not n.endswith(".partial")
    )


def list_parts(root: zarr.Group) -> PartListing:
    """Every child of `parts/`, opened one by one (see `PartListing`)."""
    listing = PartListing()
    if L.PARTS not in root:
        return listing
    parts = group_at(root, L.PARTS)
    for name in _children(root, L.PARTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zarr's "not recognized" for folders in creation
                node = parts[name]
        except KeyError:
            contents = set(_children(root, f"{L.PARTS}/{name}"))
            if contents <= {LEASE}:
                listing.creating.append(name)
            else:
                listing.no_metadata.append(name)
            continue
        except Exception as error:  # unparsable JSON, wrong node type, unreadable file
            listing.damaged[name] = f"{type(error).__name__}: {error}"
            continue
        if isinstance(node, zarr.Group) and not isinstance(node.attrs.get(L.COMMIT_ATTR), dict):
            # Nothing in it is committed, so nothing in it is visible (docs/store-format.md):
            # cinefeat writes a part's zarr.json and its zero commit in one write, so only
            # another tool makes such a part; readers skip it, `validate` warns about it.
            listing.uncommitted.append(name)
        elif isinstance(node, zarr.Group):
            listing.groups.append((name, node))
        else:
            listing.damaged[name] = "it is an array, not a group"
    return listing


def unreachable_trailers(index: StoreIndex, part: Part) -> list[str]:
    """Trailers committed in a superseded `part` that the live parts do not hold as recent.

    A compaction copies each record with its `committed_at`; a record in a replaced part that is
    absent from the live index, or committed later than the live copy, was committed after the
    compaction read the part, and deleting the part would lose it.
    """
    out = []
    for pos, tid in enumerate(part.ids):
        loc = index.trailers.get(tid)
        if loc is None or index.parts[loc[0]].committed_at[loc[1]] < part.committed_at[pos]:
            out.append(tid)
    return out


Location = tuple[int, int]  # (index of the part in StoreIndex.parts, position in that part)


def _locations(part: int, ids: list[str]) -> dict[str, Location]:
    """{id: (part, position)} of one part's entries (the last entry wins within a part).

    Plain tuples built by zip: a 50,000-trailer index is built in milliseconds this way.
    """
    return dict(zip(ids, zip(repeat(part), range(len(ids))), strict=True))


def _merge(
    out: dict[str, Location],
    new: dict[str, Location],
    keep_old: Callable[[str, Location, Location], bool],
) -> None:
    """Add `new` to `out`; for ids in both, `keep_old(id, old, new)` decides (rare: duplicates)."""
    for tid in out.keys() & new.keys():
        if keep_old(tid, out[tid], new[tid]):
            new[tid] = out[tid]
    out.update(new)


@dataclass
class StoreIndex:
    """All parts, plus lookups resolved by "committed last wins"."""

    parts: list[Part]
    trailers: dict[str, Location] = field(default_factory=dict)
    _features: dict[str, dict[str, Location]] = field(default_factory=dict)

    @classmethod
    def build(cls, root: zarr.Group) -> StoreIndex:
        """The index of every live part; a damaged part raises `StoreFormatError` naming it."""
        listing = list_parts(root)
        superseded = superseded_parts(listing.groups)
        problems = listing.problems(superseded)
        if problems:
            raise StoreFormatError(f"{problems[0]} (`cinefeat store validate` lists all)")
        return cls.from_parts(
            [read_part(name, group) for name, group in listing.groups if name not in superseded]
        )

    @classmethod
    def from_parts(cls, parts: list[Part]) -> StoreIndex:
        """The index over exactly `parts` (compaction indexes the parts it replaces this way)."""
        parts = sorted(parts, key=lambda p: (float(p.info.get("created", 0.0)), p.name))
        index = cls(parts)

        def older(tid: str, old: Location, new: Location) -> bool:
            (old_part, old_pos), (new_part, new_pos) = old, new
            return bool(
                parts[old_part].committed_at[old_pos] > parts[new_part].committed_at[new_pos]
            )

        for pi, part in enumerate(parts):
            _merge(index.trailers, _locations(pi, part.ids), older)
        return index

    def commit_time(self, part: int, trailer: str) -> float:
        p = self.parts[part]
        loc = self.trailers.get(trailer)
        if loc is not None and loc[0] == part:
            return float(p.committed_at[loc[1]])
        try:  # the part's last record of it, as within a part the last entry wins
            return float(p.committed_at[len(p.ids) - 1 - p.ids[::-1].index(trailer)])
        except ValueError:
            return float(p.commit.get("time") or 0.0)

    def feature_names(self) -> list[str]:
        return sorted({name for p in self.parts for name in p.features})

    def feature(self, name: str) -> dict[str, Location]:
        """id -> location of its committed rows of `name` (built on first use)."""
        if name not in self._features:
            out: dict[str, Location] = {}

            def older(tid: str, old: Location, new: Location) -> bool:
                # a duplicate (validate reports it): the later commit wins
                return self.commit_time(old[0], tid) > self.commit_time(new[0], tid)

            for pi, fpart in self.feature_parts(name):
                _merge(out, _locations(pi, fpart.ids), older)
            self._features[name] = out
        return self._features[name]

    def feature_parts(self, name: str) -> list[tuple[int, FeaturePart]]:
        return [(i, p.features[name]) for i, p in enumerate(self.parts) if name in p.features]


def run_configs(infos: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{run id: config} from parts' info: a part's own `config`, and the `runs` a compacted
    part carries over from the parts it replaced."""
    out: dict[str, dict[str, Any]] = {}
    for info in infos:
        for run, config in (info.get("runs") or {}).items():
            out.setdefault(str(run), dict(config))
        if isinstance(info.get("config"), dict):
            out.setdefault(str(info.get("run")), dict(info["config"]))
    return out
