"""Find the trailers of a dataset directory and give each a stable id.

Why ids are relative paths without extension: they survive moving the dataset root, read well in
the store, and keep the folder structure a dataset already has (`movienet/tt0111161`). Files that
map to one id (`a.mp4` and `a.mkv`) are never a silent pick: the id becomes a `Collision` naming
every file, which the run records as failed at stage `scan` while the rest of the batch goes on
(refusing the whole batch for one duplicate made large scraped collections unrunnable).

The walk follows directory symlinks (datasets are often assembled from links) but remembers each
directory's (device, inode), so a symlink loop is reported and skipped instead of recursing forever.
`--shard i/n` partitions the sorted ids by a hash of the id, so every machine computes the same
partition without talking to the others, and adding files does not move existing ids between shards.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cinefeat.store.errors import CinefeatError

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = ("mp4", "mkv", "webm", "avi", "mov", "m4v")


class DatasetError(CinefeatError):
    """The dataset directory cannot be scanned as asked (message names the fix)."""


SCAN_STAGE = "scan"  # the stage named in the record of a trailer refused by the scan


@dataclass(frozen=True)
class Collision:
    """Two or more files that map to one trailer id: none of them is extracted."""

    id: str
    paths: tuple[Path, ...]  # sorted

    @property
    def message(self) -> str:
        """What went wrong and the fixes that exist (ids are paths without the extension)."""
        names = " and ".join(str(p) for p in self.paths)
        verb, none = ("both map", "neither") if len(self.paths) == 2 else ("all map", "none")
        extensions = sorted({p.suffix.lower().lstrip(".") for p in self.paths})
        hint = (
            f", or leave a container out with --extensions (e.g. without {extensions[-1]})"
            if len(extensions) > 1
            else ""
        )
        return (
            f"{names} {verb} to trailer id {self.id!r} (ids are relative paths without the "
            f"extension), so {none} was extracted: rename or remove all but one of them{hint}"
        )


@dataclass(frozen=True)
class Trailer:
    """One video file of the dataset: its id and where it is."""

    id: str
    path: Path


@dataclass(frozen=True)
class ScanResult:
    trailers: list[Trailer]
    skipped_links: list[Path]  # directory symlinks that would have looped
    collisions: list[Collision] = field(default_factory=list)  # after shard and limit
    found_ids: frozenset[str] = frozenset()  # every id under the root, before shard and limit


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based), parsed from `i/n`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index_text, count_text = text.split("/")
            shard = cls(int(index_text), int(count_text))
        except ValueError:
            raise DatasetError(f"--shard expects i/n such as 0/4, got {text!r}") from None
        if shard.count < 1 or not 0 <= shard.index < shard.count:
            raise DatasetError(f"--shard {text}: need 0 <= i < n, e.g. 0/{max(shard.count, 1)}")
        return shard

    def contains(self, trailer_id: str) -> bool:
        digest = hashlib.sha1(trailer_id.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


def trailer_id(path: Path, root: Path) -> str:
    """`root/a/b c.mp4` -> `a/b c` (POSIX separators on every OS)."""
    relative = path.relative_to(root)
    return relative.with_suffix("").as_posix()


def scan(
    root: str | os.PathLike[str],
    extensions: Iterable[str] = VIDEO_EXTENSIONS,
    limit: int | None = None,
    shard: Shard | None = None,
) -> ScanResult:
    """All video files under `root`, sorted by id, after `shard` and then `limit`.

    A colliding id takes its place in the sorted order like any other (so `--limit` and `--shard`
    count it, and exactly one shard reports it) but lands in `collisions`, not `trailers`.
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"dataset directory {base} does not exist or is not a directory")
    if limit is not None and limit < 0:
        raise DatasetError(f"--limit must be >= 0, got {limit}")
    wanted = {e.lower().lstrip(".") for e in extensions}
    by_id: dict[str, list[Path]] = {}
    skipped: list[Path] = []
    for path in _walk(base, skipped):
        if path.suffix.lower().lstrip(".") in wanted:
            by_id.setdefault(trailer_id(path, base), []).append(path)
    ids = sorted(by_id)
    if shard is not None:
        ids = [tid for tid in ids if shard.contains(tid)]
    if limit is not None:
        ids = ids[:limit]
    trailers = [Trailer(tid, by_id[tid][0]) for tid in ids if len(by_id[tid]) == 1]
    collisions = [Collision(tid, tuple(sorted(by_id[tid]))) for tid in ids if len(by_id[tid]) > 1]
    return ScanResult(trailers, skipped, collisions, frozenset(by_id))


def _walk(base: Path, skipped: list[Path]) -> Iterable[Path]:
    """Files under `base`, following directory links once each (loops are skipped and logged)."""
    seen: set[tuple[int, int]] = set()
    stack = [base]
    while stack:
        directory = stack.pop()
        try:
            info = directory.stat()
        except OSError as error:
            log.warning("cannot read %s (%s): skipped", directory, error)
            skipped.append(directory)
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:
            log.warning(
                "%s links to a directory already scanned (symlink loop): skipped", directory
            )
            skipped.append(directory)
            continue
        seen.add(key)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            log.warning("cannot list %s (%s): skipped", directory, error)
            skipped.append(directory)
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=True):
                    stack.append(path)
                elif entry.is_file(follow_symlinks=True):
                    yield path
            except OSError:  # a dangling or looping link to a file
                log.warning("%s cannot be followed: skipped", path)
                skipped.append(path)
