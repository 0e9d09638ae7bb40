"""Planning an archive within the limits of one Zenodo record.

A Zenodo record holds at most 100 files and 50 GB. Finding that out after hours of uploading is
the worst moment, so `check_record_limits` runs before anything is written or uploaded and, when
the files cannot fit, proposes a split into several records that each do.
"""

from __future__ import annotations

from dataclasses import dataclass

from cinefeat.store.archive.errors import RecordLimitExceeded

MAX_FILES_PER_RECORD = 100
MAX_BYTES_PER_RECORD = 50 * 10**9  # Zenodo counts decimal gigabytes


@dataclass(frozen=True)
class RecordLimits:
    """Limits of one record (override for another Zenodo instance or a quota increase)."""

    max_files: int = MAX_FILES_PER_RECORD
    max_bytes: int = MAX_BYTES_PER_RECORD


ZENODO_LIMITS = RecordLimits()


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB"


def suggest_split(
    sizes: dict[str, int], fixed: dict[str, int], limits: RecordLimits
) -> list[list[str]]:
    """Group the names of `sizes` into records that fit, each also holding the `fixed` files.

    First-fit decreasing: good enough for a suggestion and easy to predict. A single file larger
    than a record never fits; it is returned alone so the message can name it.
    """
    room_files = limits.max_files - len(fixed)
    room_bytes = limits.max_bytes - sum(fixed.values())
    groups: list[list[str]] = []
    used: list[int] = []
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        for index, group in enumerate(groups):
            if len(group) < room_files and used[index] + sizes[name] <= room_bytes:
                group.append(name)
                used[index] += sizes[name]
                break
        else:
            groups.append([name])
            used.append(sizes[name])
    return groups


def check_record_limits(
    splittable: dict[str, int],
    fixed: dict[str, int],
    limits: RecordLimits = ZENODO_LIMITS,
) -> None:
    """Refuse a record whose files exceed `limits`, naming a split that would fit.

    `splittable` maps feature archive names to sizes (they can go to different records);
    `fixed` are the files every record needs (labels/metadata archive, manifest, data card).
    """
    total_files = len(splittable) + len(fixed)
    total_bytes = sum(splittable.values()) + sum(fixed.values())
    if total_files <= limits.max_files and total_bytes <= limits.max_bytes:
        return
    room = limits.max_bytes - sum(fixed.values())
    too_big = sorted(name for name, size in splittable.items() if size > room)
    problem = (
        f"{total_files} files and {_gb(total_bytes)} do not fit in one Zenodo record "
        f"(at most {limits.max_files} files and {_gb(limits.max_bytes)})"
    )
    if too_big:
        raise RecordLimitExceeded(
            f"{problem}: {', '.join(too_big)} alone exceed(s) a record. Reduce them (store "
            "float16 instead of float32, or fewer rows per trailer), or split the trailers into "
            "several stores, then run `cinefeat archive` again; nothing was uploaded."
        )
    groups = suggest_split(splittable, fixed, limits)
    plan = "; ".join(f"record {i + 1}: {', '.join(sorted(g))}" for i, g in enumerate(groups))
    raise RecordLimitExceeded(
        f"{problem}. Split the features into {len(groups)} records, e.g. {plan} — run "
        "`cinefeat archive STORE OUT_DIR --features NAME,...` once per record (each gets the "
        "labels/metadata archive), or pack many small features into fewer zips with "
        "`--group NAME=f1,f2`; nothing was uploaded."
    )
