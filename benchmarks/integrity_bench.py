"""What the integrity checks cost: per-trailer digests at commit and on read, zip CRC on read.

Why: digests are computed at every commit and checked on every `get` / `load_feature`, and a
zip member's CRC-32 is checked on its first direct read (docs/store-format.md, "Integrity").
Each row compares the same operation with the check switched off (the check's function replaced
by a no-op, in this process only), on synthetic CLIP-like rows (20..400 x 512 float16 per
trailer, commits of 16 trailers). Prints one table; numbers are medians over repeats.

    OMP_NUM_THREADS=1 python benchmarks/integrity_bench.py [--trailers 800] [--reads 400]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord, zipmembers
from cinefeat.store import index as index_module
from cinefeat.store.archive import write_stored_zip
from cinefeat.store.digests import batch_digests

DIM, BATCH = 512, 16


def synthetic(n: int) -> dict[str, FeatureRows]:
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(math.log(120), 0.5, n), 20, 400).astype(int)
    out = {}
    for i, k in enumerate(lengths):
        start = np.arange(k, dtype=np.float64) * 0.5
        out[f"t{i:06d}"] = FeatureRows(
            rng.standard_normal((k, DIM)).astype(np.float16), np.stack([start, start + 0.5], 1)
        )
    return out


def write(path: Path, data: dict[str, FeatureRows]) -> list[float]:
    """Seconds per commit of BATCH trailers."""
    store = FeatureStore.create(path)
    times = []
    with store.writer(run="bench") as w:
        w.declare_feature("clip", provenance={"model": "bench"}, dim=DIM)
        for i, (tid, rows) in enumerate(data.items(), 1):
            w.add(TrailerRecord(id=tid), {"clip": rows})
            if i % BATCH == 0:
                t = time.perf_counter()
                w.commit()
                times.append(time.perf_counter() - t)
    return times


def reads(path: Path, ids: list[str], n: int) -> float:
    """Median ms of one random `get` on a freshly opened store."""
    store = FeatureStore.open(path, read_only=True)
    rng = np.random.default_rng(1)
    times = []
    for tid in rng.choice(ids, size=n):
        t = time.perf_counter()
        store.get(str(tid), "clip")
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def scan(path: Path, verify: bool) -> float:
    store = FeatureStore.open(path, read_only=True)
    t = time.perf_counter()
    store.load_feature("clip", verify=verify)
    return time.perf_counter() - t


def switched_off(obj: object, name: str, run: Callable[[], float]) -> float:
    original = getattr(obj, name)
    setattr(obj, name, lambda *a, **k: None)
    try:
        return run()
    finally:
        setattr(obj, name, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trailers", type=int, default=800)
    parser.add_argument("--reads", type=int, default=400)
    args = parser.parse_args()
    data = synthetic(args.trailers)
    ids = list(data)
    batches = [list(data.values())[i : i + BATCH] for i in range(0, len(data), BATCH)]
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        commit_on = statistics.median(write(root / "on", data)) * 1e3
        digest_ms = (
            statistics.median(
                _timed(lambda b=b: batch_digests([(r.values, r.spans) for r in b])) for b in batches
            )
            * 1e3
        )
        # the writer needs real digests (readers check them): "unchecked" is the commit minus the
        # measured digest cost of the same batches
        rows.append(("commit of 16 trailers (ms)", commit_on - digest_ms, commit_on, "unit"))
        path = root / "on"
        reads(path, ids, 20)  # warm the page cache
        on = reads(path, ids, args.reads)
        off = switched_off(index_module.FeaturePart, "verify", lambda: reads(path, ids, args.reads))
        rows.append(("random get of one trailer (ms)", off, on, "median"))
        on = statistics.median(scan(path, True) for _ in range(3))
        off = statistics.median(scan(path, False) for _ in range(3))
        rows.append(("load_feature, all trailers (s)", off, on, "median of 3"))
        zipped = write_stored_zip(path, root / "on.zip")

        def zip_reads() -> float:
            zipmembers._members.cache_clear()  # first touch of every member again
            return reads(zipped, ids, args.reads)

        on = zip_reads()
        off = switched_off(zipmembers.StoredMembers, "verify", zip_reads)
        rows.append(("random get from a stored zip, cold members (ms)", off, on, "median"))
    rows_total = sum(len(r.values) for r in data.values())
    print(f"{args.trailers} trailers, {rows_total} rows x {DIM} float16")
    print(f"{'operation':50} {'unchecked':>10} {'checked':>10} {'overhead':>9}")
    for name, off, on, _ in rows:
        print(f"{name:50} {off:10.3f} {on:10.3f} {100 * (on - off) / off:8.1f}%")


def _timed(run: Callable[[], object]) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
