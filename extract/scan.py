"""Find the trailers of a dataset directory and give each a stable id.

Why ids are relative paths without extension: they survive moving the dataset root, read well in
the store, and keep the folder structure a dataset already has (`movienet/tt0111161`). Two files
that map to one id (`a.mp4` and `a.mkv`) are an error that names both, never a silent pick.

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
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = ("mp4", "mkv", "webm", "avi", "mov", "m4v")


class DatasetError(Exception):
    """The dataset directory cannot be scanned as asked (message names the fix)."""


class IdCollision(DatasetError):
    """Two files map to the same trailer id."""


@dataclass(frozen=True)
class Trailer:
    """One video file of the dataset: its id and where it is."""

    id: str
    path: Path


@dataclass(frozen=True)
class ScanResult:
    trailers: list[Trailer]
    skipped_links: list[Path]  # directory symlinks that would have looped


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
    """All video files under `root`, sorted by id, after `shard` and then `limit`."""
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"dataset directory {base} does not exist or is not a directory")
    wanted = {e.lower().lstrip(".") for e in extensions}
    by_id: dict[str, Path] = {}
    skipped: list[Path] = []
    for path in _walk(base, skipped):
        if path.suffix.lower().lstrip(".") not in wanted:
            continue
        tid = trailer_id(path, base)
        if tid in by_id:
            first, second = sorted([by_id[tid], path])
            raise IdCollision(
                f"{first} and {second} both map to trailer id {tid!r}: rename or remove one of them"
            )
        by_id[tid] = path
    trailers = [Trailer(tid, by_id[tid]) for tid in sorted(by_id)]
    if shard is not None:
        trailers = [t for t in trailers if shard.contains(t.id)]
    if limit is not None:
        if limit < 0:
            raise DatasetError(f"--limit must be >= 0, got {limit}")
        trailers = trailers[:limit]
    return ScanResult(trailers, skipped)


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
