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
An entry whose publisher gives no checksum has `sha256=None`: its first download records the hash
(trust on first use) in `$CINEFEAT_CACHE/recorded-sha256.json`, and every later load is checked
against that record; `cinefeat models list` marks such entries as unpinned.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class WeightsError(Exception):
    """Base class of the errors of this module."""


class WeightsNotFound(WeightsError):
    """A weights file is not in the cache and could not be downloaded."""


class ChecksumMismatch(WeightsError):
    """A file's sha256 differs from the pinned or recorded one."""


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    url: str | None
    sha256: str | None = None
    size: int | None = None


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
        try:
            _download(remote, path)
        except OSError as error:
            raise WeightsNotFound(
                _missing_message(entry, remote, path) + f"\nDownload failed: {error}"
            ) from error
    verify_file(entry, remote, path)
    return path


def fetch_all(name: str, download: bool | None = None) -> Path:
    """Fetch every file of an entry; returns the directory that holds them."""
    entry = get_weights(name)
    paths = [fetch(name, f.filename, download=download) for f in entry.files]
    return paths[0].parent


def verify_file(entry: PretrainedWeights, remote: RemoteFile, path: Path) -> str:
    """Check `path` against the pinned (or first-use recorded) sha256; return the digest.

    The digest of a verified file is remembered by (size, mtime) so a large file is hashed once.
    """
    stat = path.stat()
    stamp_key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    stamps = _read_json(cache_dir() / "verified.json")
    digest = stamps.get(stamp_key) or sha256_of(path)
    expected = remote.sha256
    recorded_key = f"{entry.name}/{remote.filename}"
    if expected is None:
        recorded = _read_json(cache_dir() / "recorded-sha256.json")
        expected = recorded.get(recorded_key)
        if expected is None:
            log.warning(
                "%s has no published sha256; recording %s (trust on first use)",
                recorded_key,
                digest,
            )
            recorded[recorded_key] = digest
            _write_json(cache_dir() / "recorded-sha256.json", recorded)
            expected = digest
    if digest != expected:
        raise ChecksumMismatch(
            f"{path} has sha256 {digest} but {recorded_key} expects {expected}. The file is "
            f"corrupt or not the published one: delete it and run "
            f"`cinefeat models download {entry.name}`."
        )
    if stamps.get(stamp_key) != digest:
        stamps[stamp_key] = digest
        _write_json(cache_dir() / "verified.json", stamps)
    return digest


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


def _download(remote: RemoteFile, path: Path) -> None:
    """Stream to a temporary file in the target directory, then rename (never a partial file)."""
    if remote.url is None:
        raise WeightsNotFound(f"{remote.filename} has no public URL to download from")
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s -> %s", remote.url, path)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(remote.url, timeout=60) as rsp:
            shutil.copyfileobj(rsp, out, CHUNK)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


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
