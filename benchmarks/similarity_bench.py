"""Exact cosine search over 100k trailers: milliseconds per query on this machine.

`cinefeat similar` promises well under a second per query at 100k trailers without an approximate
index. This script measures `CosineIndex.similar` (one matrix-vector product + argpartition) side
by side with a full argsort, for single queries and for a batch of queries, and prints a table.

    python benchmarks/similarity_bench.py [--trailers 100000] [--dim 512] [--queries 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cinefeat.fuse.similarity.search import CosineIndex


def per_query_ms(function, repeats: int) -> float:
    function()  # warm-up (page in the matrix, BLAS threads)
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return 1000 * (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trailers", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.trailers, args.dim)).astype(np.float32)
    ids = [f"trailer/{i:06d}" for i in range(args.trailers)]
    start = time.perf_counter()
    index = CosineIndex(ids, vectors)
    build_s = time.perf_counter() - start
    queries = [ids[i] for i in rng.choice(args.trailers, args.queries, replace=False)]
    query_rows = index.vectors[rng.choice(args.trailers, args.queries, replace=False)]
    cursor = iter(range(10**9))

    def similar() -> None:
        index.similar(queries[next(cursor) % len(queries)], args.k)

    def full_sort() -> None:
        q = index.vector(queries[next(cursor) % len(queries)])
        np.argsort(-(index.vectors @ q))[: args.k + 1]

    def batch() -> None:
        index.query_vectors(query_rows, args.k)

    rows = [
        ("CosineIndex.similar (matvec + argpartition)", per_query_ms(similar, args.queries)),
        ("matvec + full argsort (naive)", per_query_ms(full_sort, args.queries)),
        (
            f"CosineIndex.query_vectors, batch of {args.queries}",
            per_query_ms(batch, 3) / args.queries,
        ),
    ]
    reference = rows[0][1]
    print(
        f"exact cosine top-{args.k} over {args.trailers:,} trailers x {args.dim} dims "
        f"(float32, {index.vectors.nbytes / 2**20:.0f} MiB; index build {build_s * 1000:.0f} ms)"
    )
    print(f"{'method':<48} {'ms/query':>10} {'vs similar':>11}")
    for name, ms in rows:
        print(f"{name:<48} {ms:>10.2f} {ms / reference:>10.2f}x")


if __name__ == "__main__":
    main()
