"""Random trailer reads from a feature archive: directory vs zip (plain chunks) vs zip (sharded).

Why: archives are read in place (`open_archive` opens the zips without extracting), which is only
acceptable if random reads through zarr's ZipStore stay close to a directory store. The issue
measured sharding inside a zip at 5-20x slower; this script keeps that decision checked. Also
prints hashing and safe-extraction throughput (what `fetch`/`publish` spend on verification).

    OMP_NUM_THREADS=1 python benchmarks/archive_reads.py [--trailers 1500] [--reads 400]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord
from cinefeat.store.archive import build_archive, safe_extract, write_stored_zip
from cinefeat.store.archive.checksums import digest_file
from cinefeat.store.archive.manifest import Manifest
from cinefeat.store.archive.zip_index import stored_member_ranges
from cinefeat.store.compact import compact
from cinefeat.store.console import set_quiet


def make_store(path: Path, trailers: int, dim: int) -> FeatureStore:
    rng = np.random.default_rng(0)
    store = FeatureStore.create(path)
    with store.writer(run="bench", worker="0") as writer:
        writer.declare_feature("clip", provenance={"model": "bench"}, dim=dim)
        for i in range(trailers):
            rows = int(rng.integers(10, 40))
            values = rng.normal(size=(rows, dim)).astype(np.float16)
            spans = np.stack([np.arange(rows), np.arange(rows) + 1], axis=1)
            writer.add(TrailerRecord(id=f"t{i:05d}"), {"clip": FeatureRows(values, spans)})
            if i % 500 == 499:
                writer.commit()
    compact(store)
    return FeatureStore.open(path, read_only=True)


def time_reads(path: Path, ids: list[str]) -> tuple[float, float]:
    """(seconds to open + index, mean milliseconds per random `get`)."""
    started = time.perf_counter()
    store = FeatureStore.open(path, read_only=True)
    store.ids()
    opened = time.perf_counter() - started
    started = time.perf_counter()
    for trailer_id in ids:
        store.get(trailer_id, "clip")
    return opened, (time.perf_counter() - started) / len(ids) * 1000


def time_direct_zip_reads(zip_path: Path, ids: list[str]) -> tuple[float, float]:
    """Prototype of the proposed store hook: pread rows straight from the ZIP_STORED members.

    Uses the store's index to find a trailer's rows (internal API: benchmark only) and
    `stored_member_ranges` to find chunk bytes in the zip; reads values and spans like
    `cinefeat.store.fastread` does for directories.
    """
    started = time.perf_counter()
    store = FeatureStore.open(zip_path, read_only=True)
    ranges = stored_member_ranges(zip_path)
    index = store.index
    opened = time.perf_counter() - started
    fd = os.open(zip_path, os.O_RDONLY)

    def rows(array, start: int, stop: int) -> np.ndarray:
        dtype, width, chunk_rows = np.dtype(array.dtype), array.shape[1], array.chunks[0]
        row_bytes = dtype.itemsize * width
        out = []
        row = start
        while row < stop:
            chunk = row // chunk_rows
            end = min(stop, (chunk + 1) * chunk_rows)
            offset, _ = ranges[f"{array.path}/c/{chunk}/0"]
            data = os.pread(
                fd, (end - row) * row_bytes, offset + (row - chunk * chunk_rows) * row_bytes
            )
            out.append(np.frombuffer(data, dtype=dtype).reshape(-1, width))
            row = end
        return np.concatenate(out)

    started = time.perf_counter()
    try:
        for trailer_id in ids:
            loc = index.feature("clip")[trailer_id]
            fpart = index.parts[loc.part].features["clip"]
            start, stop = (int(x) for x in fpart.offsets[loc.position])
            rows(fpart.values, start, stop)
            rows(fpart.spans, start, stop)
    finally:
        os.close(fd)
    return opened, (time.perf_counter() - started) / len(ids) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trailers", type=int, default=1500)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--rows-per-shard", type=int, default=16384)
    args = parser.parse_args()
    set_quiet(True)
    work = Path(tempfile.mkdtemp(prefix="cinefeat-bench-"))
    try:
        directory = work / "store"
        store = make_store(directory, args.trailers, args.dim)
        rng = np.random.default_rng(1)
        ids = [str(x) for x in rng.choice(store.ids(), size=args.reads)]

        archive = work / "archive"
        build_archive(directory, archive)
        plain_zip = archive / "feature-clip.zip"

        sharded_dir = work / "sharded"
        shutil.copytree(directory, sharded_dir)
        compact(FeatureStore.open(sharded_dir), rows_per_shard=args.rows_per_shard, force=True)
        sharded_zip = write_stored_zip(sharded_dir, work / "sharded.zip")

        rows = [("directory (compacted)", directory), ("zip, plain chunks (archive)", plain_zip)]
        rows.append((f"zip, sharded ({args.rows_per_shard} rows/shard)", sharded_zip))
        results = [(name, *time_reads(path, ids)) for name, path in rows]
        results.append(
            ("zip, pread via member ranges (hook)", *time_direct_zip_reads(plain_zip, ids))
        )
        base = results[0][2]
        size_mb = plain_zip.stat().st_size / 1e6
        print(f"{args.trailers} trailers, dim {args.dim}, {args.reads} random reads; "
              f"feature zip {size_mb:.1f} MB")  # fmt: skip
        print(f"| {'layout':<36} | open (s) | ms/read | x directory |")
        print(f"|{'-' * 38}|----------|---------|-------------|")
        for name, opened, per_read in results:
            print(f"| {name:<36} | {opened:8.3f} | {per_read:7.3f} | {per_read / base:11.2f} |")

        started = time.perf_counter()
        digest_file(plain_zip)
        hashing = size_mb / (time.perf_counter() - started)
        entry = Manifest.read(archive).entry("feature-clip.zip")
        started = time.perf_counter()
        safe_extract(plain_zip, work / "extracted", entry)
        extracting = size_mb / (time.perf_counter() - started)
        print(f"\nmd5+sha256 hashing: {hashing:.0f} MB/s; verified safe extraction: "
              f"{extracting:.0f} MB/s")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
