"""Benchmark of the feature store layout against the two obvious alternatives, in one run.

Compares, on the same synthetic ragged float16 data (per trailer 20..400 rows x 512, shaped like
scene-level CLIP features; a MovieNet-like median of ~120 rows):
  - cinefeat store as written (one part, 256-row chunks, batches of 16 trailers per commit),
  - the same store after `compact --rows-per-shard` (what gets archived and published),
  - h5py, one dataset per trailer in one file,
  - one .npy file per trailer.
Prints write time, files, bytes on disk (allocated blocks), random-read latency of one trailer
(median, p95), and full-scan throughput (all trailers into memory, page cache warm), then the
file-count formula for 50,000 trailers. Run: `python benchmarks/store_bench.py [--trailers N]`.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord
from cinefeat.store import layout as L
from cinefeat.store.compact import compact

DIM = 512
BATCH = 16
SHARD_ROWS = 262_144  # 256 MiB of 512-d float16 per shard file


def synthetic(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(math.log(120), 0.5, n), 20, 400).astype(int)
    return {
        f"tt{i:07d}": rng.standard_normal((k, DIM)).astype(np.float16)
        for i, k in enumerate(lengths)
    }


def spans_for(values: np.ndarray) -> np.ndarray:
    start = np.arange(len(values), dtype=np.float64) * 0.5
    return np.stack([start, start + 0.5], axis=1)


def disk(path: Path) -> tuple[int, int]:
    """(files, allocated bytes) under `path`."""
    files = size = 0
    items = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for item in items:
        files += 1
        size += os.stat(item).st_blocks * 512
    return files, size


def write_store(path: Path, data: dict[str, np.ndarray]) -> None:
    store = FeatureStore.create(path)
    with store.writer(run="bench", worker="0") as writer:
        writer.declare_feature("clip", provenance={"model": "synthetic"}, dim=DIM)
        for i, (tid, values) in enumerate(data.items()):
            writer.add(TrailerRecord(id=tid), {"clip": FeatureRows(values, spans_for(values))})
            if (i + 1) % BATCH == 0:
                writer.commit()


def write_h5(path: Path, data: dict[str, np.ndarray]) -> None:
    with h5py.File(path, "w") as h5:
        for tid, values in data.items():
            group = h5.create_group(tid)
            group.create_dataset("values", data=values)
            group.create_dataset("spans", data=spans_for(values))


def write_npy(path: Path, data: dict[str, np.ndarray]) -> None:
    path.mkdir()
    for tid, values in data.items():
        np.save(path / f"{tid}.npy", values)
        np.save(path / f"{tid}.spans.npy", spans_for(values))


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def latencies(read: Callable[[str], object], ids: list[str]) -> tuple[float, float]:
    times = []
    for tid in ids:
        start = time.perf_counter()
        read(tid)
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1e3, times[int(0.95 * (len(times) - 1))] * 1e3


def files_formula(trailers: int, mean_rows: float) -> tuple[str, int]:
    rows = trailers * mean_rows
    span_shard = SHARD_ROWS * (DIM * 2 // 16)
    index = math.ceil(trailers / L.INDEX_CHUNK)
    total = 6 + math.ceil(rows / SHARD_ROWS) + math.ceil(rows / span_shard) + 3 * index
    text = (
        f"files per feature = 6 metadata + ceil(R/{SHARD_ROWS}) values shards + "
        f"ceil(R/{span_shard}) spans shards + 3 x ceil(N/{L.INDEX_CHUNK}) index chunks; "
        f"N = {trailers}, R = N x {mean_rows:.0f} rows = {rows:,.0f}: "
        f"6 + {math.ceil(rows / SHARD_ROWS)} + {math.ceil(rows / span_shard)} + 3 x {index}"
    )
    return text, total


def open_cost(trailers: int, features: int = 3) -> dict[str, float]:
    """Seconds to open a store of `trailers` x `features` (3 rows each) and answer index queries.

    The rows are tiny: this measures the in-memory index a reader builds, not I/O.
    """
    from cinefeat.store.arrays import create_part
    from cinefeat.store.canonical import FeatureTable, TrailerTable
    from cinefeat.store.compact import commit_counts, write_feature, write_trailers
    from cinefeat.store.provenance import complete_provenance

    folder = Path(tempfile.mkdtemp(prefix="cinefeat-open-"))
    try:
        store = FeatureStore.create(folder / "s")
        ids = [f"tt{i:07d}" for i in range(trailers)]
        part = create_part(store.root[L.PARTS], "bulk", "bench", "0")
        records = [TrailerRecord(id=t).to_json() for t in ids]
        write_trailers(part, TrailerTable(ids, records, ["ok"] * trailers, np.ones(trailers)))
        tables = []
        for k in range(features):
            table = FeatureTable(
                name=f"f{k}",
                provenance=complete_provenance({}, 4, "float16"),
                dim=4,
                dtype=np.dtype("float16"),
                ids=ids,
                lengths=np.full(trailers, 3, dtype=np.int64),
                texts=["null"] * trailers,
                sources=[],
            )
            rows = 3 * trailers
            write_feature(
                part, table, None, blocks=iter([(np.zeros((rows, 4)), np.zeros((rows, 2)))])
            )
            tables.append(table)
        part.attrs[L.COMMIT_ATTR] = commit_counts(tables, trailers)
        out = {}
        start = time.perf_counter()
        reader = FeatureStore.open(folder / "s")
        reader.ids()
        out["open + ids()"] = time.perf_counter() - start
        start = time.perf_counter()
        for k in range(features):
            reader.has(ids[-1], f"f{k}")
        out[f"has() maps of {features} features"] = time.perf_counter() - start
        start = time.perf_counter()
        reader.record(ids[-1])
        reader.get(ids[-1], "f0")
        out["first record() + get()"] = time.perf_counter() - start
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trailers", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--open-trailers", type=int, default=50_000)
    args = parser.parse_args()
    data = synthetic(args.trailers)
    raw_mb = sum(v.nbytes for v in data.values()) / 1e6
    rows = sum(len(v) for v in data.values())
    rng = np.random.default_rng(1)
    sample = [str(t) for t in rng.choice(list(data), size=args.reads)]
    work = Path(tempfile.mkdtemp(prefix="cinefeat-bench-"))
    results = []
    try:
        store_path, h5_path, npy_path = work / "store", work / "bench.h5", work / "npy"
        write_s = timed(lambda: write_store(store_path, data))
        store = FeatureStore.open(store_path)
        results.append(("cinefeat store (parts)", write_s, store_path, store))
        sharded = work / "sharded"
        shutil.copytree(store_path, sharded)
        compact_s = timed(lambda: compact(FeatureStore.open(sharded), rows_per_shard=SHARD_ROWS))
        results.append(
            (
                "cinefeat store (compacted, sharded)",
                write_s + compact_s,
                sharded,
                FeatureStore.open(sharded),
            )
        )
        results.append(
            ("h5py, dataset per trailer", timed(lambda: write_h5(h5_path, data)), h5_path, None)
        )
        results.append(
            ("one .npy per trailer", timed(lambda: write_npy(npy_path, data)), npy_path, None)
        )
        h5 = h5py.File(h5_path, "r")

        def readers(name: str, target: object) -> tuple[Callable, Callable]:
            if isinstance(target, FeatureStore):
                return (lambda t: target.get(t, "clip")), (lambda: target.load_feature("clip"))
            if name.startswith("h5py"):
                return (
                    lambda t: (h5[t]["values"][()], h5[t]["spans"][()]),
                    lambda: [(h5[t]["values"][()], h5[t]["spans"][()]) for t in data],
                )
            return (
                lambda t: (np.load(npy_path / f"{t}.npy"), np.load(npy_path / f"{t}.spans.npy")),
                lambda: [
                    (np.load(npy_path / f"{t}.npy"), np.load(npy_path / f"{t}.spans.npy"))
                    for t in data
                ],
            )

        table = []
        for name, write_time, path, target in results:
            one, scan = readers(name, target)
            scan()  # warm the page cache and any index
            latencies(one, sample[:20])
            median, p95 = latencies(one, sample)
            scan_s = min(timed(scan) for _ in range(2))
            files, size = disk(path)
            table.append((name, write_time, files, size, median, p95, raw_mb / scan_s))
        h5.close()
        print(
            f"{args.trailers} trailers, {rows:,} rows x {DIM} float16 = {raw_mb:.0f} MB raw; "
            f"{args.reads} random single-trailer reads; full scan = every trailer into memory"
        )
        header = (
            "| layout | write s | files | MB on disk | read median ms | read p95 ms | scan MB/s |"
        )
        print(header)
        print("|" + "---|" * 7)
        for name, write_time, files, size, median, p95, mbps in table:
            print(
                f"| {name} | {write_time:.2f} | {files} | {size / 1e6:.1f} | {median:.3f} | "
                f"{p95:.3f} | {mbps:.0f} |"
            )
        npy_median = table[-1][4]
        npy_bytes = table[-1][3]
        for name, _, _, size, median, _, mbps in table[:2]:
            print(
                f"{name}: read median {median / npy_median:.2f}x npy (target <= 3x); "
                f"bytes {size / npy_bytes:.2f}x npy (target <= 1); scan {mbps:.0f} MB/s "
                "(target >= 200)"
            )
        formula, total = files_formula(50_000, rows / args.trailers)
        print(
            f"{formula} = {total} files (target <= 100); one .npy per trailer: 50,000 x 2 "
            "= 100,000 files; h5py: 1 file (but one dataset per trailer)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    costs = open_cost(args.open_trailers)
    print(
        f"opening a {args.open_trailers:,}-trailer, 3-feature store: "
        + "; ".join(f"{k} {v:.2f} s" for k, v in costs.items())
    )


if __name__ == "__main__":
    main()
