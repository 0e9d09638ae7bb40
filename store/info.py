"""`info`: a summary of a store (what `cinefeat store info` prints), as plain data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cinefeat.store import layout as L
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.nodes import attr_dict


def disk_usage(path: Path) -> tuple[int, int]:
    """(files, bytes) under `path` (a directory) or of the file itself (a .zip)."""
    if path.is_file():
        return 1, path.stat().st_size
    files = size = 0
    for folder, _, names in os.walk(path):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(folder, name))
    return files, size


def store_kind(store: FeatureStore) -> str:
    """The kind of `store`: "directory", "zip" or "archive" (a folder of feature zips)."""
    if hasattr(store, "feature_stores"):
        return "archive"
    return "zip" if L.is_zip(store.path) else "directory"


def store_info(store: FeatureStore) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for status in ("ok", "failed"):
        statuses[status] = len(store.ids(status=status))
    # partial: ok trailers with a failed feature (store/record.py OUTCOMES); one record read each
    statuses["partial"] = sum(
        1 for tid in store.ids(status="ok") if store.record(tid).outcome == "partial"
    )
    features = {}
    for name in store.features():
        lengths = store.lengths(name)
        prov = store.provenance(name)
        features[name] = {
            "trailers": len(lengths),
            "rows": int(sum(lengths.values())),
            "dim": prov.get("dim"),
            "dtype": prov.get("dtype"),
            "model": prov.get("model"),
            "config_hash": prov.get("config_hash"),
            "cinefeat_version": prov.get("cinefeat_version"),
        }
    label_names, labels = store.labels()
    files, size = disk_usage(store.path)
    root_info = attr_dict(store.root, L.ROOT_ATTR)
    return {
        "path": str(store.path),
        "kind": store_kind(store),
        "format_version": root_info.get("format_version"),
        "read_only": store.read_only,
        "parts": store.parts(),
        "trailers": len(store),
        "status": statuses,
        "features": features,
        "labels": {"names": label_names, "trailers": len(labels)},
        "splits": {name: {k: len(v) for k, v in s.items()} for name, s in store.splits().items()},
        "files": files,
        "bytes": size,
    }


def format_info(info: dict[str, Any]) -> str:
    partial = info["status"].get("partial")
    lines = [
        f"store     {info['path']} ({info.get('kind', 'directory')}, format "
        f"v{info['format_version']}{', read-only' if info['read_only'] else ''})",
        f"trailers  {info['trailers']} ({info['status']['ok']} ok"
        + (f", {partial} of them partial" if partial else "")
        + f", {info['status']['failed']} failed) in {len(info['parts'])} part(s)",
        f"on disk   {info['files']} files, {info['bytes'] / 1e6:.1f} MB",
    ]
    for name, f in info["features"].items():
        lines.append(
            f"feature   {name}: {f['trailers']} trailers, {f['rows']} rows x {f['dim']} "
            f"{f['dtype']} (model {f['model']}, config {str(f['config_hash'])[:12]})"
        )
    if info["labels"]["names"]:
        lines.append(
            f"labels    {len(info['labels']['names'])} names, {info['labels']['trailers']} trailers"
        )
    for name, sizes in info["splits"].items():
        lines.append(f"split     {name}: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    return "\n".join(lines)
