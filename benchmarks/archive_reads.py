"""Random trailer reads from a feature archive: directory vs zip (plain chunks) vs zip (sharded).

Why: archives are read in place (`open_archive` opens the zips without extracting), which is only
acceptable if random reads from a zip stay close to a directory store. The store reads rows of a
ZIP_STORED member with one `pread` (`cinefeat.store.directio`); the rows "through zarr's ZipStore"
turn that off (`directio.DIRECT_READS = False`) to show what zarr alone costs, and keep checked the
issue's measurement that sharding inside a zip is 5-20x slower there. Also prints hashing and
safe-extraction throughput (what `fetch`/`publish` spend on verification).

    OMP_NUM_THREADS=1 python benchmarks/archive_reads.py [--trailers 1500] [--reads 400]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord, directio
from cinefeat.store.archive import build_archive, safe_extract, write_stored_zip
from cinefeat.store.archive.checksums import digest_file
from cinefeat.store.archive.manifest import Manifest
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


def time_reads(path: Path, ids: list[str], direct: bool = True) -> tuple[float, float]:
    """(seconds to open + index, mean milliseconds per random `get`); `direct=False`: zarr only."""
    directio.DIRECT_READS = direct
    started = time.perf_counter()
    store = FeatureStore.open(path, read_only=True)
    store.ids()
    opened = time.perf_counter() - started
    started = time.perf_counter()
    try:
        for trailer_id in ids:
            store.get(trailer_id, "clip")
    finally:
        directio.DIRECT_READS = True
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

        shards = f"{args.rows_per_shard} rows/shard"
        rows = [
            ("directory (compacted)", directory, True),
            ("zip, plain chunks (the archive)", plain_zip, True),
            (f"zip, sharded ({shards})", sharded_zip, True),
            ("zip, plain chunks, through ZipStore", plain_zip, False),
            ("zip, sharded, through ZipStore", sharded_zip, False),
        ]
        time_reads(directory, ids[:20])  # warm the page cache
        results = [(name, *time_reads(path, ids, direct)) for name, path, direct in rows]
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
