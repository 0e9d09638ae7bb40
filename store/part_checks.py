"""The part-level checks of `validate`: which parts exist, who writes them, what a snapshot hides.

Why separate from the row checks: these answer "can every committed row be reached at all?"
before any row is read. A part folder without readable metadata, a replaced part that still holds
trailers the live parts lack, or a consolidated-metadata snapshot that other zarr readers trust
are all ways for committed rows to vanish while the rows themselves are intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zarr
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from cinefeat.store import layout as L
from cinefeat.store.index import (
    PartListing,
    StoreIndex,
    read_part,
    unreachable_trailers,
)
from cinefeat.store.lease import LEASE, probe
from cinefeat.store.nodes import group_at

if TYPE_CHECKING:
    from cinefeat.store.validate import ValidationReport

CONSOLIDATED = "consolidated_metadata"


def check_listing(listing: PartListing, superseded: set[str], report: ValidationReport) -> None:
    """Damaged or missing part metadata is an error: those parts' trailers are unreachable."""
    for name, why in sorted(listing.damaged.items()):
        if name not in superseded:
            report.add(
                "format",
                f"{L.PARTS}/{name}/zarr.json cannot be read ({why}): its trailers are "
                "unreachable; restore the file from a backup, or move the folder out of the "
                "store to drop them",
                part=name,
            )
    for name in listing.no_metadata:
        if name not in superseded:
            report.add(
                "orphaned",
                f"{L.PARTS}/{name}/zarr.json is missing but the folder holds data: its trailers "
                "are unreachable; restore the file from a backup, or move the folder out of the "
                "store to drop them",
                part=name,
            )
    for name in listing.uncommitted:
        report.add(
            "uncommitted",
            f"{L.PARTS}/{name}/zarr.json has no '{L.COMMIT_ATTR}' attribute: nothing in the part "
            "is committed, so readers skip it (cinefeat never writes such a part); move the "
            "folder out of the store if another tool left it",
            part=name,
            severity="warning",
        )
    for name in listing.creating:
        report.add(
            "orphaned",
            "an empty part folder (a writer was creating it, or died doing so): "
            "`cinefeat store compact` removes it once no writer holds it",
            part=name,
            severity="warning",
        )


def check_leases(store_path: Path, parts: list[tuple[str, zarr.Group]], report: Any) -> None:
    """Open parts (a live writer) and stale ones (a dead writer's lease) are reported."""
    for name, group in parts:
        folder = store_path / L.PARTS / name
        if folder.is_dir():
            state = probe(folder)
        elif LEASE in group:
            report.add(
                "open",
                "archived while its writer held it open: its last trailers may be missing",
                part=name,
                severity="warning",
            )
            continue
        else:
            continue
        if state.state == "open":
            report.add(
                "open",
                f"being written ({state.reason}): trailers it has not committed yet are not "
                "visible; compaction leaves it alone",
                part=name,
                severity="warning",
            )
        elif state.state == "stale":
            report.add(
                "stale",
                f"its writer is gone ({state.reason}): its committed trailers are readable; "
                "`cinefeat store compact` merges it and drops the lease",
                part=name,
                severity="warning",
            )


def check_leftovers(
    live: StoreIndex, leftovers: list[tuple[str, zarr.Group]], report: ValidationReport
) -> None:
    """A replaced part is harmless unless it holds trailers the live parts lack."""
    for name, group in leftovers:
        try:
            lost = unreachable_trailers(live, read_part(name, group))
        except Exception:  # half deleted: an interrupted compaction cleanup, nothing to keep
            lost = []
        if lost:
            report.add(
                "unreachable",
                f"replaced by a compaction, but {len(lost)} trailer(s) committed here are not in "
                f"the live parts ({lost[:5]}): readers do not see them; `cinefeat store compact` "
                "puts the part back and merges them",
                part=name,
            )
        else:
            report.add(
                "leftover",
                "superseded by a compacted part; `cinefeat store compact` deletes it",
                part=name,
                severity="warning",
            )


def check_consolidated(root: zarr.Group, live_parts: list[str], report: ValidationReport) -> None:
    """A `zarr.consolidate_metadata()` snapshot is ignored by cinefeat but trusted by others."""
    store = root.store_path.store
    key = f"{root.store_path.path}/zarr.json".lstrip("/")
    buffer = sync(store.get(key, prototype=default_buffer_prototype()))
    if buffer is None:
        return
    try:
        snapshot = json.loads(buffer.to_bytes()).get(CONSOLIDATED)
    except (ValueError, AttributeError):
        return
    if not isinstance(snapshot, dict):
        return
    nodes = snapshot.get("metadata", {}) if isinstance(snapshot.get("metadata"), dict) else {}
    seen = {k.split("/")[1] for k in nodes if k.startswith(f"{L.PARTS}/") and k.count("/") == 1}
    missing = sorted(set(live_parts) - seen)
    gone = sorted(seen - set(live_parts))
    changed = sorted(
        name
        for name in set(live_parts) & seen
        if nodes[f"{L.PARTS}/{name}"].get("attributes", {}).get(L.COMMIT_ATTR)
        != _live_commit(root, name)
    )
    if missing or gone or changed:
        detail = (
            f"stale: it lacks parts {missing}, still lists removed parts {gone}, holds old "
            f"commits of {changed}"
        )
    else:
        detail = "it matches the store now, but no cinefeat writer will update it"
    report.add(
        "consolidated-metadata",
        f"zarr.json holds a '{CONSOLIDATED}' snapshot ({detail}). cinefeat ignores it and reads "
        "every part's own metadata; zarr readers opening the store with the default "
        "use_consolidated see the snapshot instead. Open with use_consolidated=False, or delete "
        f"the '{CONSOLIDATED}' key from zarr.json",
        severity="warning",
    )


def _live_commit(root: zarr.Group, name: str) -> object:
    try:
        return group_at(root, L.PARTS, name).attrs.get(L.COMMIT_ATTR)
    except Exception:
        return None
