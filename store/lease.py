"""Writer leases: how compaction (and `validate`) tell a live writer's part from a dead one's.

Why two mechanisms: an exclusive `flock` on the part's folder is exact on one machine (the kernel
drops it the instant the writer dies, SIGKILL included) but is not reliable across machines on
network filesystems; a heartbeat file works everywhere but only expires after a delay. So a
writer holds both: the lock for as long as it is open, and the lease group `parts/<part>/lease/`
whose `lease` attribute `{"pid", "host", "started", "heartbeat", "interval_s", "stale_after_s"}`
it rewrites on every commit and from a daemon thread every `interval_s`. The lease is a zarr
group (a `zarr.json` written by hand and moved into place atomically) so zarr readers listing a
part see a regular member, not a stray file. Closing removes the lease, then drops the lock.

A part is `open` while its lock is held or its heartbeat is fresh (not proven dead), `stale` when
it has a lease whose writer is gone (crashed; its committed rows are readable, compaction merges
them), `closed` when it has no lease.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

try:  # POSIX only; elsewhere the heartbeat alone decides
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LEASE = "lease"  # group inside the part
LEASE_ATTR = "lease"
HEARTBEAT_S = 10.0  # default refresh interval of a writer's lease
STALE_FACTOR = 3.0  # a lease not refreshed for 3 intervals belongs to a dead (or frozen) writer

State = Literal["open", "stale", "closed"]


@dataclass
class LeaseState:
    """What compaction and `validate` know about the writer of one part."""

    state: State
    reason: str
    lease: dict[str, Any] | None = None


class Lock:
    """An exclusive, non-blocking `flock` on a folder; `held` is False when another holds it."""

    def __init__(self, folder: Path) -> None:
        self.fd: int | None = None
        self.supported = fcntl is not None
        self.held = False
        if fcntl is None:
            return
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return
            self.supported = False  # e.g. ENOLCK on a filesystem without locks
            return
        self.fd, self.held = fd, True

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)  # closing the descriptor drops the flock
            self.fd, self.held = None, False


def _write_lease(folder: Path, lease: dict[str, Any]) -> None:
    """Replace `<folder>/lease/zarr.json` atomically (a reader sees the old or the new lease)."""
    target = folder / LEASE
    target.mkdir(exist_ok=True)
    meta = {"zarr_format": 3, "node_type": "group", "attributes": {LEASE_ATTR: lease}}
    tmp = target / f".zarr.json.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, target / "zarr.json")


def read_lease(folder: Path) -> dict[str, Any] | None:
    """The lease of the part at `folder` (None when it has none, or it cannot be parsed)."""
    try:
        meta = json.loads((folder / LEASE / "zarr.json").read_text())
    except (OSError, ValueError):
        return None
    lease = meta.get("attributes", {}).get(LEASE_ATTR) if isinstance(meta, dict) else None
    return lease if isinstance(lease, dict) else None


def _pid_alive(pid: int) -> bool:
    """Same-host liveness: the process exists and is not a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


class PartLease:
    """The lease a `StoreWriter` holds on its part, from before the part exists until close."""

    def __init__(self, folder: Path, interval_s: float = HEARTBEAT_S) -> None:
        self.folder = folder
        self.interval_s = float(interval_s)
        folder.mkdir(parents=True)  # a new part: fails if the name is taken
        self.lock = Lock(folder)
        self._mutex = threading.Lock()
        self._info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "interval_s": self.interval_s,
            "stale_after_s": STALE_FACTOR * self.interval_s,
        }
        self.refresh()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_heartbeat, args=(weakref.ref(self), self._stop), daemon=True, name="lease"
        )
        self._thread.start()
        self._finalizer = weakref.finalize(self, _drop, self._stop, self.lock)

    def refresh(self) -> None:
        """Push the heartbeat forward (on each commit, and from the heartbeat thread)."""
        with self._mutex:
            if self.folder.exists():
                _write_lease(self.folder, {**self._info, "heartbeat": time.time()})

    def release(self) -> None:
        """Stop the heartbeat, remove the lease, then drop the lock: the part is closed."""
        self._stop.set()
        with self._mutex:
            shutil.rmtree(self.folder / LEASE, ignore_errors=True)
        self._finalizer()


def _heartbeat(ref: weakref.ref[PartLease], stop: threading.Event) -> None:
    while True:
        lease = ref()
        if lease is None:
            return
        interval = lease.interval_s
        del lease  # hold no reference while sleeping: a dropped writer's lease can be collected
        if stop.wait(interval):
            return
        lease = ref()
        if lease is None:
            return
        with contextlib.suppress(OSError):
            lease.refresh()
        del lease


def _drop(stop: threading.Event, lock: Lock) -> None:
    stop.set()
    lock.release()


def lease_state(folder: Path, lock: Lock | None = None, now: float | None = None) -> LeaseState:
    """Is the writer of the part at `folder` alive? `lock`: a `Lock` the caller took on it.

    Without a lease the part is closed. With one: a lock someone else holds means open; a lock
    we could take on the writer's own host proves the writer is gone; otherwise a dead pid on
    the same host, or a heartbeat older than `stale_after_s`, makes it stale.
    """
    lease = read_lease(folder)
    if lease is None:
        if (folder / LEASE).exists():
            return LeaseState("stale", "the lease cannot be parsed (its writer was killed)")
        return LeaseState("closed", "no lease: its writer closed it")
    now = time.time() if now is None else now
    age = now - float(lease.get("heartbeat", 0.0))
    who = f"writer pid {lease.get('pid')} on {lease.get('host')}, heartbeat {age:.0f} s ago"
    if lock is not None and lock.supported and not lock.held:
        return LeaseState("open", f"{who}, holds its lock", lease)
    same_host = lease.get("host") == socket.gethostname()
    if same_host and lock is not None and lock.supported and lock.held:
        return LeaseState("stale", f"{who}, lock released: the writer is gone", lease)
    if same_host and isinstance(lease.get("pid"), int) and not _pid_alive(lease["pid"]):
        return LeaseState("stale", f"{who}, process no longer exists", lease)
    stale_after = float(lease.get("stale_after_s", STALE_FACTOR * HEARTBEAT_S))
    if age > stale_after:
        return LeaseState("stale", f"{who} (expires after {stale_after:.0f} s)", lease)
    return LeaseState("open", f"{who}, lease fresh", lease)


def probe(folder: Path) -> LeaseState:
    """`lease_state` with a lock taken and dropped at once (for reports, not decisions)."""
    if not folder.is_dir():
        return LeaseState("closed", "not a folder on this machine")
    lock = Lock(folder)
    try:
        return lease_state(folder, lock)
    finally:
        lock.release()
