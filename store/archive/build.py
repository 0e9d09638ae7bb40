"""`build_archive`: turn a feature store into a folder ready for one Zenodo record.

Layout of the folder (every file listed with size, md5 and sha256 in MANIFEST.json):

- `feature-<name>.zip`: one per feature, a compacted store holding only that feature (one part,
  plain row chunks, no sharding, members ZIP_STORED) so `FeatureStore.open(zip)` reads a trailer's
  rows with one `pread`, and users download only the features they want; `groups` packs several
  features into one `feature-<group>.zip` instead (fewer files for a record with many features);
- `metadata.zip`: a store with every trailer record, the labels and the splits, no features;
- `README.md` (data card), `CITATION.cff`, `MANIFEST.json`.

The Zenodo limits are checked twice: on an estimate before anything is written (so an impossible
plan fails in seconds), and on the real sizes before the manifest is written.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from cinefeat.store.archive.datacard import render_citation, render_readme
from cinefeat.store.archive.errors import ArchiveError
from cinefeat.store.archive.limits import ZENODO_LIMITS, RecordLimits, check_record_limits
from cinefeat.store.archive.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestEntry,
    cinefeat_version,
    entry_for,
)
from cinefeat.store.archive.safe_zip import write_stored_zip
from cinefeat.store.console import progress

log = logging.getLogger(__name__)

METADATA_ZIP = "metadata.zip"
README = "README.md"
CITATION = "CITATION.cff"
FIXED_FILES = (METADATA_ZIP, README, CITATION, MANIFEST_NAME)
COMMIT_EVERY = 500
ARCHIVE_RUN = "archive"


def feature_zip_name(feature: str) -> str:
    """Zip of one feature, or of one group of features (named by the group)."""
    return f"feature-{feature}.zip"


def public_record(record: Any) -> Any:
    """The record as published: the local source path is reduced to its file name.

    A path like /home/alice/private/... says nothing useful to others and leaks a user's disk
    layout; the sha256 of the source file is what identifies the video.
    """
    if record.source_path:
        return replace(record, source_path=PurePath(record.source_path).name)
    return record


def estimate_feature_bytes(store: Any, feature: str) -> int:
    """Bytes of a feature archive before writing it: values + spans + per-trailer index."""
    provenance = store.provenance(feature)
    lengths = store.lengths(feature)
    rows = sum(lengths.values())
    itemsize = np.dtype(provenance.get("dtype", "float16")).itemsize
    return rows * (int(provenance["dim"]) * itemsize + 16) + len(lengths) * 400


def _copy_features(store: Any, group: str, features: list[str], target: Path) -> None:
    """A one-part store at `target` with `features` and the records of the trailers having any."""
    from cinefeat.store import FeatureStore

    out = FeatureStore.create(target)
    committed = {feature: store.committed(feature) for feature in features}
    ids = sorted(set().union(*committed.values()))
    with out.writer(run=ARCHIVE_RUN, worker="0", part=f"{ARCHIVE_RUN}-{group}") as writer:
        for feature in features:
            provenance = store.provenance(feature)
            writer.declare_feature(
                feature,
                provenance=provenance,
                dim=int(provenance["dim"]),
                dtype=provenance["dtype"],
            )
        for count, trailer_id in enumerate(progress(ids, desc=group, unit="trailer"), 1):
            rows = {f: store.get(trailer_id, f) for f in features if trailer_id in committed[f]}
            writer.add(public_record(store.record(trailer_id)), rows)
            if count % COMMIT_EVERY == 0:
                writer.commit()


def _copy_feature(store: Any, feature: str, target: Path) -> None:
    _copy_features(store, feature, [feature], target)


def plan_zips(
    features: list[str], groups: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """{zip name: features in it}: each group in one zip, every other feature in its own.

    Group and feature names share the `feature-<name>.zip` namespace, so they must not collide.
    """
    from cinefeat.store.layout import check_name

    groups = groups or {}
    plan: dict[str, list[str]] = {}
    grouped: dict[str, str] = {}
    for group, members in sorted(groups.items()):
        try:
            check_name("group", group)
        except ValueError as error:
            raise ArchiveError(str(error)) from None
        if not members:
            raise ArchiveError(f"group {group!r} has no features: give --group NAME=f1,f2")
        for feature in members:
            if feature not in features:
                raise ArchiveError(
                    f"group {group!r} names feature {feature!r}, which is not archived "
                    f"(archived: {features})"
                )
            if feature in grouped:
                raise ArchiveError(
                    f"feature {feature!r} is in groups {grouped[feature]!r} and {group!r}: put "
                    "each feature in one group"
                )
            grouped[feature] = group
        plan[feature_zip_name(group)] = sorted(members)
    for feature in features:
        if feature not in grouped:
            name = feature_zip_name(feature)
            if name in plan:
                raise ArchiveError(
                    f"group {feature!r} has the name of an archived feature outside it: "
                    "rename the group"
                )
            plan[name] = [feature]
    return dict(sorted(plan.items()))


def _copy_metadata(store: Any, target: Path) -> None:
    from cinefeat.store import FeatureStore

    out = FeatureStore.create(target)
    with out.writer(run=ARCHIVE_RUN, worker="0", part=f"{ARCHIVE_RUN}-metadata") as writer:
        for count, trailer_id in enumerate(store.ids(), 1):
            writer.add(public_record(store.record(trailer_id)))
            if count % COMMIT_EVERY == 0:
                writer.commit()
    label_names, multi_hot = store.labels()
    if label_names:
        out.set_labels(label_names, multi_hot)
    for name, subsets in store.splits().items():
        out.set_split(name, subsets)


def _counts(store: Any, features: list[str]) -> dict[str, Any]:
    ids = store.ids()
    ok = store.ids(status="ok")
    label_names, multi_hot = store.labels()
    return {
        "trailers": len(ids),
        "trailers_ok": len(ok),
        "trailers_failed": len(ids) - len(ok),
        "labels": len(label_names),
        "label_names": label_names,
        "labelled": len(multi_hot),
        "splits": sorted(store.splits()),
        "features": {
            name: {
                "trailers": len(lengths),
                "rows": int(sum(lengths.values())),
            }
            for name in features
            for lengths in [store.lengths(name)]
        },
    }


def build_archive(
    store_path: str | Path,
    out_dir: str | Path,
    *,
    features: list[str] | None = None,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    limits: RecordLimits = ZENODO_LIMITS,
    groups: dict[str, list[str]] | None = None,
) -> Manifest:
    """Write the archive folder of `store_path` (all features, or `features`) into `out_dir`.

    `metadata` (the publication metadata, see `cinefeat.store.zenodo.metadata`) fills the title
    and CITATION.cff authors; without it they are placeholders to edit before publishing.
    `groups` ({name: [features]}) puts each group's features into one `feature-<name>.zip`.
    """
    from cinefeat.store import FeatureStore

    store = FeatureStore.open(store_path, read_only=True)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ArchiveError(f"{out_dir} is not empty: choose a new folder for the archive")
    chosen = sorted(features) if features else store.features()
    unknown = sorted(set(chosen) - set(store.features()))
    if unknown:
        raise ArchiveError(
            f"features {unknown} are not in {store_path} (it has {store.features()}); "
            "pick from those with --features"
        )
    if not store.ids():
        raise ArchiveError(f"{store_path} has no committed trailers: nothing to archive")
    plan = plan_zips(chosen, groups)
    fixed_estimate = {name: 1_000_000 for name in FIXED_FILES}
    estimates = {
        name: sum(estimate_feature_bytes(store, f) for f in members)
        for name, members in plan.items()
    }
    check_record_limits(estimates, fixed_estimate, limits)

    metadata = metadata or {}
    title = title or metadata.get("title") or f"cinefeat features: {', '.join(chosen)}"
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / ".build"
    entries: list[ManifestEntry] = []
    try:
        for name, members in plan.items():
            group = name.removeprefix("feature-").removesuffix(".zip")
            _copy_features(store, group, members, work / group)
            path = write_stored_zip(work / group, out_dir / name)
            entries.append(entry_for(path, "feature", group, members))
            shutil.rmtree(work / group)
        _copy_metadata(store, work / "metadata")
        metadata_zip = write_stored_zip(work / "metadata", out_dir / METADATA_ZIP)
        entries.append(entry_for(metadata_zip, "metadata"))
    except BaseException:  # leave no half-written archive behind: a rerun needs an empty folder
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        else:
            for item in out_dir.iterdir():
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)

    provenance = {f: store.provenance(f) for f in chosen}
    counts = _counts(store, chosen)
    version = cinefeat_version()
    sizes = {e.name: e.size for e in entries}
    readme = out_dir / README
    readme.write_text(
        render_readme(title, provenance, counts, sizes, version, zip_features=plan),
        encoding="utf-8",
    )
    citation = out_dir / CITATION
    citation.write_text(render_citation(metadata, title, metadata.get("version")), "utf-8")
    entries += [entry_for(readme, "readme"), entry_for(citation, "citation")]

    feature_sizes = {e.name: e.size for e in entries if e.kind == "feature"}
    other_sizes = {e.name: e.size for e in entries if e.kind != "feature"}
    check_record_limits(feature_sizes, {**other_sizes, MANIFEST_NAME: 100_000}, limits)
    manifest = Manifest(files=entries, provenance=provenance, counts=counts, title=title)
    manifest.write(out_dir)
    log.info("wrote %d files to %s", len(entries) + 1, out_dir)
    return manifest
