"""Pretrained weights as data: a table of named files (URL, sha256, licence, format) + a cache.

Why (after open_clip's `pretrained.py`): a model's weights, where they come from, how to check them
and how to preprocess for them belong together in one place that `cinefeat models list` can print.
Loading never trusts a file it has not checked: the sha256 is verified before any loader sees the
bytes, and loaders use safetensors or `torch.load(weights_only=True)`.

Offline sites (GPU nodes without internet) run `cinefeat models download NAME...` on a login node
that shares `$CINEFEAT_CACHE`; a file missing at run time raises `WeightsNotFound`, whose message
names the file, the URL and that command.

Cache layout: `$CINEFEAT_CACHE/<entry name>/<filename>` (default `$XDG_CACHE_HOME/cinefeat`, else
`~/.cache/cinefeat`). Local files (a fine-tuned model, a mirror) are registered in
`$CINEFEAT_CACHE/local-weights.json` with their own sha256 (`cinefeat models add NAME FILE`).
An entry whose publisher gives no sha256 has `sha256=None`: its first download records the hash
(trust on first use) in `$CINEFEAT_CACHE/recorded-sha256.json`, and every later load is checked
against that record; `cinefeat models list` marks such entries as recorded, not published.

Nothing enters the cache unchecked, because a recorded hash locks the cache to whatever was first
stored: a download lands in `<filename>.partial` (resumable, see `cinefeat.extract.download`) and
is renamed into place only after its size, its format's magic bytes (`file_checks`), and every
published checksum (a Zenodo md5, a sha256 in a URL) agree. An HTML error page served with status
200 is therefore refused and leaves nothing recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cinefeat.extract import download as transport
from cinefeat.extract.base import LoadError
from cinefeat.extract.file_checks import content_problem

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class WeightsError(LoadError):
    """Base class of the errors of this module."""


class WeightsNotFound(WeightsError):
    """A weights file is not in the cache and could not be downloaded."""


class ChecksumMismatch(WeightsError):
    """A file's sha256 differs from the pinned or recorded one."""


class DownloadRejected(WeightsError):
    """A download finished but is not the published file (wrong size, format or checksum)."""


@dataclass(frozen=True)
class RemoteFile:
    """One published file. `sha256` and `md5` are the publisher's checksums where published
    (Zenodo lists md5 only); `size` is the exact published size in bytes, or None: a download of
    any other size is refused, so never an approximation."""

    filename: str
    url: str | None
    sha256: str | None = None
    size: int | None = None
    md5: str | None = None
    sha256_prefix: str | None = None  # torch.hub's convention: `name-<sha256 prefix>.pth`

    @property
    def follows_main(self) -> bool:
        """A Hugging Face URL at the moving `main` branch rather than a pinned commit."""
        return self.url is not None and "/resolve/main/" in self.url

    @property
    def checksum_kind(self) -> str:
        """How the bytes are pinned: `sha256 published`, `md5 published`, or `recorded`."""
        if self.sha256:
            return "sha256 published"
        if self.md5:
            return "md5 published"
        if self.sha256_prefix:
            return "sha256 prefix published"
        return "recorded"


def hub_file(url: str) -> RemoteFile:
    """A file published the torch.hub way (torchvision's models): the hex after the last `-` of
    its name is the start of its sha256, which torch.hub checks (`check_hash`) and so do we."""
    import re

    filename = url.rsplit("/", 1)[-1]
    match = re.search(r"-([a-f0-9]{6,})\.", filename)  # torch.hub's HASH_REGEX, non-empty
    return RemoteFile(filename, url, sha256_prefix=match.group(1) if match else None)


@dataclass(frozen=True)
class PretrainedWeights:
    """One named set of published weights (one or more files).

    `format` names the exact published file format the loader expects (e.g. `keras1-h5`,
    `pytorch-state-dict`, `safetensors`, `hf-transformers-dir`); `preprocessing` carries the input
    constants that travel with these weights (mean/std, sample rate, ...).
    """

    name: str
    files: tuple[RemoteFile, ...]
    format: str
    licence: str
    description: str = ""
    source: str = ""
    preprocessing: dict[str, Any] = field(default_factory=dict)

    @property
    def main_file(self) -> RemoteFile:
        return self.files[0]


_TABLE: dict[str, PretrainedWeights] = {}
_RESOLVERS: list[Callable[[str], PretrainedWeights | None]] = []


def register_resolver(resolve: Callable[[str], PretrainedWeights | None]) -> None:
    """Add a function that makes an entry for a name the table lacks (or returns None).

    Why: some families are open-ended (every open_clip model/tag); listing them all would bury
    the table, yet each must be downloadable ahead of time by name (`cinefeat models download`).
    """
    if resolve not in _RESOLVERS:
        _RESOLVERS.append(resolve)


def register_weights(entry: PretrainedWeights) -> PretrainedWeights:
    """Add an entry to the table (extractor modules call this at import time)."""
    if entry.name in _TABLE and _TABLE[entry.name] != entry:
        raise ValueError(f"weights name {entry.name!r} is registered twice with different data")
    _TABLE[entry.name] = entry
    return entry


def list_weights() -> list[PretrainedWeights]:
    return [_TABLE[k] for k in sorted(_TABLE)] + [
        e for k, e in sorted(_local_entries().items()) if k not in _TABLE
    ]


def get_weights(name: str) -> PretrainedWeights:
    local = _local_entries()
    if name in local:
        return local[name]
    if name not in _TABLE:
        for resolve in _RESOLVERS:
            entry = resolve(name)
            if entry is not None:
                return entry
        known = ", ".join(sorted(set(_TABLE) | set(local))) or "(none)"
        raise KeyError(f"unknown weights {name!r}; known: {known} (see `cinefeat models list`)")
    return _TABLE[name]


def cache_dir() -> Path:
    root = os.environ.get("CINEFEAT_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "cinefeat"


def entry_dir(name: str) -> Path:
    return cache_dir() / name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, filename: str | None = None, download: bool | None = None) -> Path:
    """Path of a verified weights file (the entry's first file unless `filename` is given).

    Downloads into the cache when missing, unless `download` is False or `CINEFEAT_OFFLINE=1`.
    """
    entry = get_weights(name)
    remote = _pick(entry, filename)
    if download is None:
        download = os.environ.get("CINEFEAT_OFFLINE", "0") not in ("1", "true", "yes")
    path = _local_path(entry, remote)
    if not path.exists():
        if not download or remote.url is None:
            raise WeightsNotFound(_missing_message(entry, remote, path))
        with _download_lock(path):
            if not path.exists():  # another process may have finished it while we waited
                _download(entry, remote, path)
    verify_file(entry, remote, path)
    return path


def fetch_all(name: str, download: bool | None = None) -> Path:
    """Fetch every file of an entry; returns the directory that holds them."""
    entry = get_weights(name)
    paths = [fetch(name, f.filename, download=download) for f in entry.files]
    return paths[0].parent


def verify_file(entry: PretrainedWeights, remote: RemoteFile, path: Path) -> str:
    """Check `path` against the pinned (or first-use recorded) sha256; return the digest.

    A file seen for the first time of an entry without a published sha256 is recorded only after
    the checks a download gets (format, published md5, size), so a file dropped into the cache by
    hand cannot lock in garbage either. The digest of a verified file is remembered by
    (size, mtime) so a large file is hashed once.
    """
    stat = path.stat()
    stamp_key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    stamps = _read_json(cache_dir() / "verified.json")
    digest = stamps.get(stamp_key) or sha256_of(path)
    recorded_key = f"{entry.name}/{remote.filename}"
    expected = remote.sha256 or _read_json(cache_dir() / "recorded-sha256.json").get(recorded_key)
    if expected is None:
        problem = _content_problems(entry, remote, path)
        if problem:
            raise DownloadRejected(
                f"{path} is not the published {recorded_key}: {problem}. Nothing was recorded; "
                f"delete it and run `cinefeat models download {entry.name}`."
            )
        log.warning(
            "%s has no published sha256; recording %s (trust on first use)", recorded_key, digest
        )
        _record(recorded_key, digest)
        expected = digest
    if digest != expected:
        raise ChecksumMismatch(_mismatch_message(entry, remote, path, digest, expected))
    if stamps.get(stamp_key) != digest:
        stamps[stamp_key] = digest
        _write_json(cache_dir() / "verified.json", stamps)
    return digest


def file_status(entry: PretrainedWeights, remote: RemoteFile) -> tuple[str, str]:
    """(state, detail) of one cached file, checking without recording anything.

    States: `missing`; `ok` (matches a published sha256/md5 or the recorded hash, detail says
    which); `unrecorded` (present, no published or recorded hash to check against yet); `bad`.
    """
    path = _local_path(entry, remote)
    if not path.exists():
        return "missing", str(path)
    key = f"{entry.name}/{remote.filename}"
    recorded = _read_json(cache_dir() / "recorded-sha256.json").get(key)
    digest = sha256_of(path)
    if remote.sha256:
        if digest != remote.sha256:
            return "bad", _mismatch_message(entry, remote, path, digest, remote.sha256)
        return "ok", f"{path} (published sha256)"
    if remote.md5 and _md5_of(path) != remote.md5:
        return "bad", f"{path} md5 differs from the published {remote.md5}"
    if recorded is None:
        problem = _content_problems(entry, remote, path)
        if problem:
            return "bad", f"{path}: {problem}"
        detail = "published md5" if remote.md5 else "no published checksum"
        return "unrecorded", f"{path} ({detail}; sha256 is recorded at first use)"
    if digest != recorded:
        return "bad", _mismatch_message(entry, remote, path, digest, recorded)
    if remote.md5:
        return "ok", f"{path} (published md5; sha256 recorded at first download)"
    return "ok", f"{path} (sha256 recorded at first download; never published)"


def forget(name: str) -> list[str]:
    """Drop the recorded (first-use) hashes of an entry's files; returns the keys dropped.

    For an entry that follows a moving upstream (`resolve/main`) whose publisher changed a file:
    the next download is checked as a first download again.
    """
    entry = get_weights(name)
    recorded = _read_json(cache_dir() / "recorded-sha256.json")
    keys = [f"{entry.name}/{remote.filename}" for remote in entry.files]
    dropped = [key for key in keys if recorded.pop(key, None) is not None]
    _write_json(cache_dir() / "recorded-sha256.json", recorded)
    return dropped


def weights_sha256(name: str, filename: str | None = None) -> str:
    """sha256 of a fetched file (for provenance)."""
    entry = get_weights(name)
    remote = _pick(entry, filename)
    return verify_file(entry, remote, fetch(name, remote.filename))


def download(names: Iterable[str]) -> list[Path]:
    """Fetch entries now (for login nodes whose GPU nodes have no internet)."""
    return [fetch_all(name, download=True) for name in names]


def add_local(
    name: str,
    file: str | os.PathLike[str],
    format: str = "local",
    licence: str = "unknown",
    like: str | None = None,
) -> PretrainedWeights:
    """Register a local weights file under `name` with its sha256 computed now.

    `like` copies format, licence and preprocessing from a table entry (a fine-tune of it).
    """
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise WeightsNotFound(f"{path} is not a file")
    base = get_weights(like) if like else None
    record = {
        "path": str(path),
        "sha256": sha256_of(path),
        "size": path.stat().st_size,
        "format": base.format if base else format,
        "licence": base.licence if base else licence,
        "preprocessing": base.preprocessing if base else {},
        "like": like,
    }
    table = _read_json(cache_dir() / "local-weights.json")
    table[name] = record
    _write_json(cache_dir() / "local-weights.json", table)
    return _local_entries()[name]


def _local_entries() -> dict[str, PretrainedWeights]:
    table = _read_json(cache_dir() / "local-weights.json")
    out = {}
    for name, rec in table.items():
        out[name] = PretrainedWeights(
            name=name,
            files=(RemoteFile(Path(rec["path"]).name, None, rec["sha256"], rec.get("size")),),
            format=rec.get("format", "local"),
            licence=rec.get("licence", "unknown"),
            description=f"local file {rec['path']}",
            source=rec["path"],
            preprocessing=rec.get("preprocessing", {}),
        )
    return out


def _local_path(entry: PretrainedWeights, remote: RemoteFile) -> Path:
    local = _read_json(cache_dir() / "local-weights.json").get(entry.name)
    if local is not None:
        return Path(local["path"])
    return entry_dir(entry.name) / remote.filename


def _pick(entry: PretrainedWeights, filename: str | None) -> RemoteFile:
    if filename is None:
        return entry.main_file
    for remote in entry.files:
        if remote.filename == filename:
            return remote
    raise KeyError(f"{entry.name} has no file {filename!r}")


def _missing_message(entry: PretrainedWeights, remote: RemoteFile, path: Path) -> str:
    return (
        f"Weights file for {entry.name!r} not found: {path}\n"
        f"  published at: {remote.url or '(no public URL)'}\n"
        f"  fix: run `cinefeat models download {entry.name}` on a machine with internet access "
        f"(set CINEFEAT_CACHE to share the cache), or put the file at the path above."
    )


def _mismatch_message(
    entry: PretrainedWeights, remote: RemoteFile, path: Path, digest: str, expected: str
) -> str:
    head = f"{path} has sha256 {digest} but {entry.name}/{remote.filename} expects {expected}"
    if remote.sha256:
        return (
            f"{head} (published). The file is corrupt or not the published one: delete it "
            f"(`rm '{path}'`) and run `cinefeat models download {entry.name}`."
        )
    moving = " (this entry follows the publisher's `main` branch)" if remote.follows_main else ""
    return (
        f"{head}, the hash recorded at its first download. If the publisher changed the "
        f"file{moving}, run `cinefeat models forget {entry.name}` and then "
        f"`cinefeat models download {entry.name}`; otherwise the file is corrupt: delete it "
        f"(`rm '{path}'`) and download it again."
    )


def _download(entry: PretrainedWeights, remote: RemoteFile, path: Path) -> None:
    """Download to `<name>.partial` (resumable), check it, and only then rename it into place."""
    assert remote.url is not None
    partial = path.with_name(path.name + ".partial")
    log.info("downloading %s -> %s", remote.url, path)
    try:
        transport.download(remote.url, partial)
    except transport.DownloadError as error:
        raise WeightsNotFound(
            _missing_message(entry, remote, path) + f"\nDownload failed: {error}"
        ) from error
    problem = _content_problems(entry, remote, partial)
    key = f"{entry.name}/{remote.filename}"
    digest = sha256_of(partial)
    if problem is None and remote.sha256 and digest != remote.sha256:
        problem = f"sha256 {digest} differs from the published {remote.sha256}"
    recorded = _read_json(cache_dir() / "recorded-sha256.json").get(key)
    if problem is None and not remote.sha256 and recorded and digest != recorded:
        partial.unlink()
        raise ChecksumMismatch(_mismatch_message(entry, remote, path, digest, recorded))
    if problem is not None:
        partial.unlink()
        raise DownloadRejected(
            f"downloaded {remote.url} but it is not the published {key}: {problem}. The "
            f"download was deleted and nothing was recorded; check the URL or try again later."
        )
    os.replace(partial, path)
    if not remote.sha256 and recorded is None:
        _record(key, digest)


def _content_problems(entry: PretrainedWeights, remote: RemoteFile, path: Path) -> str | None:
    """What makes `path` not the published file (size, format, md5), or None."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"it has {size} bytes, the publisher lists {remote.size}"
    problem = content_problem(path, remote.filename, entry.format)
    if problem:
        return problem
    if remote.sha256_prefix and not (digest := sha256_of(path)).startswith(remote.sha256_prefix):
        return (
            f"sha256 {digest} does not start with {remote.sha256_prefix}, the prefix its "
            "publisher put in the file name"
        )
    if remote.md5 and _md5_of(path) != remote.md5:
        return f"md5 {_md5_of(path)} differs from the published {remote.md5}"
    return None


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _record(key: str, digest: str) -> None:
    recorded = _read_json(cache_dir() / "recorded-sha256.json")
    recorded[key] = digest
    _write_json(cache_dir() / "recorded-sha256.json", recorded)


@contextlib.contextmanager
def _download_lock(path: Path) -> Iterator[None]:
    """One downloader per file: workers sharing a cache wait for each other, not race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    locks = cache_dir() / ".locks"  # beside, not inside, the folders handed to loaders
    locks.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    with open(locks / f"{path.name}.{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
