"""`trailers12k`: Trailers12k (Montalvo-Lezama et al., DIViTA) genre labels, splits and clips.

Layout, as their code reads it (richardtml/DIViTA, `data.py`, `files.py`, `utils.py`):
`trailers12k_mgtc.csv` has a `mid` column, one 0/1 column per genre (10), then `split0`, `split1`,
`split2` with 0 = train, 1 = val, 2 = test; each representation is a zarr v2 group such as
`i_shufflenet_fpc24.zarr` (root attribute `num_features`) holding one `(clips, num_features)`
array per `mid`. Every representation found (or named) becomes one store feature
`<prefix>.<representation>`; arrays are read one movie at a time, so memory stays one trailer.
The release has no clip times: spans are clip indices (see STEP_SPANS).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.importers import IMPORTERS
from cinefeat.store.importers._common import (
    STEP_SPANS,
    FeatureSpec,
    ImportSummary,
    ReleaseFormatError,
    Sample,
    file_sha256,
    store_labels,
    write_samples,
)
from cinefeat.store.importers.releases import downloaded_file
from cinefeat.store.nodes import array_at

RELEASE = "Trailers12k, Montalvo-Lezama et al. (DIViTA)"
SITE = "https://richardtml.github.io/trailers12k/"
CSV_NAMES = ("trailers12k_mgtc.csv", "mgtc.csv", "mtgc.csv")
SUBSETS = {0: "train", 1: "val", 2: "test"}
# The archives and md5s of the first richardtml/DIViTA files.py (cloud.xibalba.com.mx); its
# current one points at Zenodo record 5716410 with other md5s (releases.json), and a folder
# filled by `--download` records the md5 and sha256 of the very archive fetched.
ARCHIVE_MD5 = {
    "i_shufflenet_fpc24": "4a7ae9a15ae35f38e29404be46543aa1",
    "k_shufflenet_fps24_fpc24": "5f2ebf7547d67b7184c22e6a4f263300",
    "i_resnet_fpc24": "78d45036c3f3627ca1ff111630c81000",
    "k_r2plus1d_fps24_fpc24": "1bde6a564dcf434260370e9686a8411c",
    "i_swin_fpc24": "afe87ce279d69a6afa2fa0428fa4bc48",
    "ik_swin_fps24_fpc24": "2d2a52b94521d95da405b222fa8a8d75",
}
# Backbones as the paper's table names them (README, "Results"); key: representation prefix.
BACKBONES = {
    "i_shufflenet": ("ShuffleNet-2D", "ImageNet-1K"),
    "k_shufflenet": ("ShuffleNet-3D", "Kinetics-400"),
    "i_resnet": ("ResNet", "ImageNet-1K"),
    "k_r2plus1d": ("R(2+1)D", "Kinetics-400"),
    "i_swin": ("Swin-2D", "ImageNet-1K"),
    "ik_swin": ("Swin-3D", "ImageNet-1K + Kinetics-400"),
}


@IMPORTERS.register("trailers12k")
class Trailers12kImporter:
    """Trailers12k (DIViTA): trailers12k_mgtc.csv and one zarr v2 group per representation."""

    name = "trailers12k"

    def __init__(
        self,
        representations: list[str] | None = None,
        prefix: str = "trailers12k",
        skip_missing: bool = False,
    ) -> None:
        """`representations`: zarr group names (default: every `*.zarr` in SOURCE);
        `skip_missing`: skip a movie whose array a group lacks (default: stop, naming it)."""
        self.representations = representations
        self.prefix = prefix
        self.skip_missing = skip_missing

    def run(self, source: Path, store: FeatureStore, summary: ImportSummary) -> None:
        folder = source if source.is_dir() else source.parent
        table = _find_csv(folder, source)
        mids, genres, label_names, splits = _read_csv(table)
        groups = self._groups(folder)
        specs = {name: _spec(name, rep, path, group) for name, (rep, path, group) in groups.items()}
        listed = set(mids)
        for _, path, group in groups.values():
            for key in sorted(set(group.array_keys()) - listed):
                summary.skip(f"{path.name} array not in {table.name}", key)
        write_samples(
            store,
            "import-trailers12k",
            specs,
            self._samples(mids, groups, summary),
            summary,
            total=len(mids),
            source_path=str(table),
        )
        ids = set(store.ids())
        labels = {mid: names for mid, names in genres.items() if mid in ids}
        sources = {mid: f"{table.name}:{mid}" for mid in labels}
        store_labels(store, label_names, labels, sources, summary)
        for split, subsets in splits.items():
            kept = {subset: [m for m in members if m in ids] for subset, members in subsets.items()}
            name = f"{self.prefix}_{split}"
            store.set_split(name, kept)
            summary.splits[name] = {subset: len(members) for subset, members in kept.items()}

    def _groups(self, folder: Path) -> dict[str, tuple[str, Path, zarr.Group]]:
        if self.representations:
            paths = [
                folder / (r if r.endswith(".zarr") else f"{r}.zarr") for r in self.representations
            ]
        else:  # zarr v2 groups only: a cinefeat store (zarr v3) beside them is not a release
            paths = sorted(p for p in folder.glob("*.zarr") if (p / ".zgroup").is_file())
        if not paths:
            raise ReleaseFormatError(f"{folder} holds no *.zarr representation group")
        out: dict[str, tuple[str, Path, zarr.Group]] = {}
        for path in paths:
            if not path.is_dir():
                raise ReleaseFormatError(f"{path} is missing: download and extract it first")
            rep = path.name.removesuffix(".zarr")
            try:
                group = zarr.open_group(str(path), mode="r")
            except Exception as error:
                raise ReleaseFormatError(f"{path} is not a zarr group ({error})") from error
            out[f"{self.prefix}_{rep.removeprefix('trailers_')}"] = (rep, path, group)
        return out

    def _samples(
        self,
        mids: list[str],
        groups: dict[str, tuple[str, Path, zarr.Group]],
        summary: ImportSummary,
    ) -> Iterator[Sample]:
        for mid in mids:
            features: dict[str, np.ndarray | None] = {}
            for name, (_, path, group) in groups.items():
                try:
                    array = array_at(group, mid)
                except KeyError:
                    if not self.skip_missing:
                        raise ReleaseFormatError(
                            f"{path} has no array for movie {mid!r} listed in the csv: the "
                            "download is incomplete (or pass skip_missing=True)"
                        ) from None
                    summary.skip(f"{path.name} has no array", mid)
                    continue
                values = np.asarray(array[...])
                if values.ndim != 2:
                    raise ReleaseFormatError(
                        f"{path}/{mid}: expected a (clips, features) array, got {values.shape}"
                    )
                features[name] = values
            yield Sample(mid, features)


def _find_csv(folder: Path, source: Path) -> Path:
    if source.is_file() and source.suffix == ".csv":
        return source
    for name in CSV_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ReleaseFormatError(f"{folder} has none of {', '.join(CSV_NAMES)}: download it first")


def _read_csv(
    path: Path,
) -> tuple[list[str], dict[str, list[str]], list[str], dict[str, dict[str, list[str]]]]:
    """(mids, {mid: genres}, genre names, {split<k>: {subset: mids}}) from the mgtc csv."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        if not columns or columns[0] != "mid":
            raise ReleaseFormatError(f"{path}: the first column must be 'mid', got {columns[:3]}")
        split_columns = [c for c in columns if c.startswith("split")]
        names = [c for c in columns[1:] if c not in split_columns]
        mids: list[str] = []
        genres: dict[str, list[str]] = {}
        splits: dict[str, dict[str, list[str]]] = {
            c: {subset: [] for subset in SUBSETS.values()} for c in split_columns
        }
        for line, row in enumerate(reader, start=2):
            mid = (row["mid"] or "").strip()
            try:
                flags = {name: int(float(row[name])) for name in names}
                assigned = {c: int(float(row[c])) for c in split_columns}
            except (TypeError, ValueError) as error:
                raise ReleaseFormatError(f"{path}:{line} (movie {mid!r}): {error}") from error
            mids.append(mid)
            genres[mid] = [name for name in names if flags[name]]
            for column, value in assigned.items():
                if value not in SUBSETS:
                    raise ReleaseFormatError(
                        f"{path}:{line} (movie {mid!r}): {column}={value}, expected 0, 1 or 2"
                    )
                splits[column][SUBSETS[value]].append(mid)
    return mids, genres, names, splits


def _spec(name: str, rep: str, path: Path, group: zarr.Group) -> FeatureSpec:
    dim = group.attrs.get("num_features")
    first = next(iter(group.array_keys()), None)
    dtype = np.dtype(array_at(group, first).dtype) if first is not None else np.dtype(np.float32)
    if dim is None and first is not None:
        dim = array_at(group, first).shape[1]
    if dim is None:
        raise ReleaseFormatError(f"{path}: no 'num_features' attribute and no arrays")
    backbone = BACKBONES.get(rep.removeprefix("trailers_").split("_fp")[0])
    provenance: dict[str, Any] = {
        "extractor": f"import:{Trailers12kImporter.name}",
        "kind": "visual",
        "release": RELEASE,
        "record": SITE,
        "file": path.name,
        "file_sha256": _group_digest(path),
        "file_sha256_covers": "the group's root metadata (.zgroup, .zattrs); rows have digests",
        "archive": f"{rep}.zarr.tar.gz",
        "archive_md5": ARCHIVE_MD5.get(rep.removeprefix("trailers_")),
    }
    fetched = downloaded_file(path.parent, f"{rep}.zarr.tar.gz")
    if fetched:  # `--download` fetched and verified it: say exactly which bytes
        provenance.update(archive_md5=fetched["md5"], archive_sha256=fetched["sha256"],
                          archive_url=fetched["url"])  # fmt: skip
    provenance |= {
        "release_feature": rep,
        "model": f"{backbone[0]} pretrained on {backbone[1]}" if backbone else "not stated",
        "sampling": {"rows": "clips in order (fpc: frames per clip)", "spans": STEP_SPANS},
    }
    if not isinstance(dim, int | float | str):
        raise ReleaseFormatError(f"{path}: 'num_features' is {dim!r}, not a number")
    return FeatureSpec(name, provenance, int(dim), "float16" if dtype == np.float16 else "float32")


def _group_digest(path: Path) -> str:
    """sha256 of the group's metadata files (the chunks are many: their digest is per row)."""
    import hashlib

    digest = hashlib.sha256()
    for meta in sorted(path.glob("*.z*")):
        if meta.is_file():
            digest.update(meta.name.encode() + bytes.fromhex(file_sha256(meta)))
    return digest.hexdigest()
