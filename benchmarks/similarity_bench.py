"""Exact cosine search over 100k trailers: milliseconds per query on this machine; and the
silhouette of a head's embedding before and after NT-Xent fine-tuning.

`cinefeat similar` promises well under a second per query at 100k trailers without an approximate
index. This script measures `CosineIndex.similar` (one matrix-vector product + argpartition) side
by side with a full argsort, for single queries and for a batch of queries, and prints a table.

    python benchmarks/similarity_bench.py [--trailers 100000] [--dim 512] [--queries 50]
    python benchmarks/similarity_bench.py --silhouette OUT_DIR [--trailers 2000]

`--silhouette` runs the `similarity-tune` pipeline on a synthetic labelled set: labels drawn with
MovieNet's genre frequencies and labels-per-trailer counts (movienet-label-stats.json); every step
of a trailer is the sum of its genres' directions (weak), a trailer-specific direction and noise.
An `mlp` head is trained on the genres, then its embedding is fine-tuned with NT-Xent on trailer
halves. Printed: cosine silhouette w.r.t. the primary (rarest) label before and after, and how
often a trailer's first half retrieves its own second half (what NT-Xent optimises);
OUT_DIR/map_after.png is the t-SNE map.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from cinefeat.fuse.similarity.search import CosineIndex

STATS = Path(os.environ.get("CINEFEAT_SHARED", "../shared")) / "data" / "movienet-label-stats.json"


def per_query_ms(function, repeats: int) -> float:
    function()  # warm-up (page in the matrix, BLAS threads)
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return 1000 * (time.perf_counter() - start) / repeats


def half_retrieval(head, data) -> float:
    """Top-1 rate at which a trailer's first half finds its own second half among all trailers."""
    import torch

    from cinefeat.fuse.data import prepare_inputs
    from cinefeat.fuse.similarity import split_halves

    head.eval()
    inputs = {n: v.float() for n, v in data.values.items()}
    (first, first_mask), (second, second_mask) = split_halves(inputs, data.masks)
    with torch.no_grad():
        a = head.embed(*prepare_inputs(first, first_mask, head.normalization, "cpu")).numpy()
        b = head.embed(*prepare_inputs(second, second_mask, head.normalization, "cpu")).numpy()
    rows, _ = CosineIndex(data.ids, b).query_vectors(a, 1)
    return float((rows[:, 0] == np.arange(len(a))).mean())


def silhouette_run(out_dir: Path, trailers: int, seed: int = 0) -> dict:
    from cinefeat.fuse.data import PaddedFeatures, fit_normalization
    from cinefeat.fuse.heads import FeatureSpec, build_head
    from cinefeat.fuse.similarity import ContrastiveConfig, contrastive_finetune, embed_all
    from cinefeat.fuse.similarity.report import similarity_report
    from cinefeat.fuse.synthetic_tasks import movienet_labels
    from cinefeat.fuse.train import TrainConfig, fit, seed_everything
    from cinefeat.store.console import set_quiet

    set_quiet(True)
    steps, dim = 24, 64
    names, labels = movienet_labels(STATS, trailers, seed)
    rng = np.random.default_rng(seed)
    genre = rng.normal(size=(len(names), dim)) / np.sqrt(dim)
    identity = rng.normal(size=(trailers, dim)) / np.sqrt(dim)
    rows = [
        (
            0.6 * labels[i] @ genre
            + 0.6 * identity[i]
            + rng.normal(scale=3.0 / np.sqrt(dim), size=(steps, dim))
        ).astype(np.float32)
        for i in range(trailers)
    ]
    ids = [f"s{i:05d}" for i in range(trailers)]
    data = PaddedFeatures.from_sequences({"x": rows}, labels, ids, {"x": steps})
    cut = int(0.8 * trailers)
    train, val = data.subset(range(cut)), data.subset(range(cut, trailers))
    seed_everything(seed)
    head = build_head("mlp", [FeatureSpec("x", dim, steps)], names)  # defaults: 256, dropout 0.5
    head.normalization = fit_normalization(train)
    config = TrainConfig(epochs=30, lr=1e-3, pos_weight=1.0, patience=5, seed=seed, device="cpu")
    trained = fit(head, train, val, config)
    before_embedding, before_halves = embed_all(head, data), half_retrieval(head, data)
    started = time.perf_counter()
    history = contrastive_finetune(head, data, ContrastiveConfig(seed=seed, device="cpu"))
    tune_s = time.perf_counter() - started
    after_embedding, after_halves = embed_all(head, data), half_retrieval(head, data)
    report = similarity_report(before_embedding, after_embedding, labels, names, out_dir)
    report.update(
        {
            "trailers_total": trailers,
            "genre_val_ap_macro": trained.best_val_ap,
            "half_retrieval_before": before_halves,
            "half_retrieval_after": after_halves,
            "nt_xent_first_last": [history[0], history[-1]],
            "finetune_s": tune_s,
        }
    )
    (Path(out_dir) / "similarity_report.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trailers", type=int, default=None)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--silhouette", metavar="OUT_DIR", default=None)
    args = parser.parse_args()
    if args.silhouette:
        r = silhouette_run(Path(args.silhouette), args.trailers or 2000)
        print(f"{r['trailers']} labelled synthetic trailers (MovieNet label statistics)")
        print(f"genre head (mlp) validation macro AP: {r['genre_val_ap_macro']:.3f}")
        print("| embedding | silhouette (cosine, primary label) | half -> own half top-1 |")
        print("|---|---|---|")
        print(f"| before | {r['silhouette_before']:.4f} | {r['half_retrieval_before']:.3f} |")
        print(f"| after NT-Xent | {r['silhouette_after']:.4f} | {r['half_retrieval_after']:.3f} |")
        first, last = r["nt_xent_first_last"]
        print(f"NT-Xent {first:.3f} -> {last:.3f}, fine-tuning {r['finetune_s']:.0f} s")
        return
    args.trailers = args.trailers or 100_000

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
