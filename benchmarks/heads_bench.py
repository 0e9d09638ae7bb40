"""Heads benchmark: training throughput, peak memory and data-loader share per head, plus the
two quality checks of the heads issue, each printed as a Markdown table.

    OMP_NUM_THREADS=2 python benchmarks/heads_bench.py throughput [--trailers 256] [--device cpu]
    python benchmarks/heads_bench.py mulan          # mlp head vs tuned logistic regression
    python benchmarks/heads_bench.py cooccurrence   # sequence heads vs mlp on a temporal task

Throughput runs each head in its own process (so peak memory is that head's alone) on a
synthetic store shaped like MovieNet: label frequencies from movienet-label-stats.json, lengths
drawn from its duration quartiles and capped at the paper's 216 CLIP, 64 OCR, 86 ASR,
140 Audiotag, 18 Musicnet, all five features as sequences, each head at its documented defaults,
batch 32, one epoch after one warm-up step. The data loader's share is the time a training step
waits for its next host batch (gathered from the padded in-memory tensors by the prefetch thread),
over the whole step time; the float32 cast, standardisation and host-to-device copy run in the step
and count as compute (`Trainer.data_seconds` / `Trainer.step_seconds`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HEADS = [
    "mlp",
    "single-transformer",
    "multi-transformer",
    "gated",
    "gmu",
    "hierarchical",
    "clip-aggregation",
    "frame-mlp-fusion",
]
STATS = Path(os.environ.get("CINEFEAT_SHARED", "../shared")) / "data" / "movienet-label-stats.json"


def throughput_one(head_name: str, trailers: int, device: str, batch_size: int) -> dict:
    import torch

    from cinefeat.fuse.data import fit_normalization
    from cinefeat.fuse.heads import FeatureSpec, build_head
    from cinefeat.fuse.synthetic_tasks import PAPER_CAPS, movienet_shaped
    from cinefeat.fuse.train import TrainConfig, Trainer, seed_everything
    from cinefeat.store.console import set_quiet

    set_quiet(True)
    seed_everything(0)
    names, data = movienet_shaped(STATS, trailers)
    specs = [FeatureSpec(n, int(v.shape[-1]), PAPER_CAPS[n]) for n, v in data.values.items()]
    head = build_head(head_name, specs, names)
    head.normalization = fit_normalization(data)
    config = TrainConfig(epochs=1, lr=1e-5, batch_size=batch_size, device=device)
    trainer = Trainer(head, data, None, config)
    head.to(trainer.device)
    warm = data.subset(range(batch_size))
    Trainer(head, warm, None, config).fit()  # warm-up: allocator, kernels, lazy inits
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - started
    stages = len(head.stages)
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if trainer.device.type == "cuda" else None
    return {
        "head": head_name,
        "parameters": sum(p.numel() for p in head.parameters()),
        "trailers_per_s": trailers * stages / trainer.step_seconds,
        "wall_s": seconds,
        "data_share": trainer.data_seconds / trainer.step_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": peak_gpu,
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
    }


def throughput(args: argparse.Namespace) -> None:
    rows = []
    for name in args.heads.split(","):
        command = [
            sys.executable,
            __file__,
            "throughput-one",
            "--head",
            name,
            "--trailers",
            str(args.trailers),
            "--device",
            args.device,
            "--batch-size",
            str(args.batch_size),
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(f"done {name}", file=sys.stderr)
    first = rows[0]
    print(
        f"\n{args.trailers} synthetic MovieNet-shaped trailers, batch {args.batch_size}, "
        f"device {first['device']}, torch threads {first['threads']}\n"
    )
    print(
        "| head | parameters | trailers/s | vs mlp | data loader share | peak RSS MB | "
        "peak GPU MB |"
    )
    print("|---|---|---|---|---|---|---|")
    base = rows[0]["trailers_per_s"] if rows[0]["head"] == "mlp" else None
    for r in rows:
        ratio = f"{r['trailers_per_s'] / base:.2f}" if base else "-"
        gpu = f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] is not None else "-"
        print(
            f"| {r['head']} | {r['parameters']:,} | {r['trailers_per_s']:.1f} | {ratio} | "
            f"{100 * r['data_share']:.1f} % | {r['peak_rss_mb']:.0f} | {gpu} |"
        )


def mulan(args: argparse.Namespace) -> None:
    from cinefeat.fuse.mulan import compare_on_emotions
    from cinefeat.store.console import set_quiet

    set_quiet(True)
    folder = STATS.parent / "mulan-emotions"
    print("| seed | logistic regression (CV-tuned C) macro AP | mlp head macro AP | ratio |")
    print("|---|---|---|---|")
    for seed in [int(s) for s in args.seeds.split(",")]:
        r = compare_on_emotions(folder, seed)
        c = r["logreg_params"]["onevsrestclassifier__estimator__C"]
        print(
            f"| {seed} | {r['logreg_ap_macro']:.4f} (C={c}) | {r['mlp_ap_macro']:.4f} | "
            f"{r['ratio']:.3f} |"
        )


def cooccurrence(args: argparse.Namespace) -> None:
    from cinefeat.fuse.heads import FeatureSpec, build_head
    from cinefeat.fuse.metrics import macro_ap
    from cinefeat.fuse.synthetic_tasks import cooccurrence_task
    from cinefeat.fuse.train import TrainConfig, fit, predict_proba, seed_everything
    from cinefeat.store.console import set_quiet

    set_quiet(True)
    configs = {
        "mlp": {"hidden": 64, "dropout": 0.1},
        "single-transformer": {"d_model": 32, "heads": 4, "dropout": 0.1},
        "multi-transformer": {"d_model": 32, "heads": 4, "dropout": 0.1},
    }
    lengths = [int(n) for n in args.lengths.split(",")]
    print("| frames per sequence | prevalence | " + " | ".join(configs) + " |")
    print("|---|---|" + "---|" * len(configs))
    for length in lengths:
        train = cooccurrence_task(args.train, length, seed=0)
        val, test = cooccurrence_task(400, length, seed=1), cooccurrence_task(1000, length, seed=2)
        cells = []
        for name, config in configs.items():
            seed_everything(0)
            head = build_head(
                name, [FeatureSpec("frames", 8, length)], ["p0", "p1", "p2", "p3"], config
            )
            fit(
                head,
                train,
                val,
                TrainConfig(epochs=args.epochs, lr=1e-3, pos_weight=1.0, patience=8, device="cpu"),
            )
            cells.append(f"{macro_ap(test.labels.numpy(), predict_proba(head, test)):.3f}")
        prevalence = float(test.labels.mean())
        print(f"| {length} | {prevalence:.3f} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--heads", default=",".join(HEADS))
    t.add_argument("--trailers", type=int, default=256)
    t.add_argument("--device", default="auto")
    t.add_argument("--batch-size", type=int, default=32)
    one = sub.add_parser("throughput-one")
    one.add_argument("--head", required=True)
    one.add_argument("--trailers", type=int, default=256)
    one.add_argument("--device", default="auto")
    one.add_argument("--batch-size", type=int, default=32)
    m = sub.add_parser("mulan")
    m.add_argument("--seeds", default="0,1,2")
    c = sub.add_parser("cooccurrence")
    c.add_argument("--lengths", default="8,16,32")
    c.add_argument("--train", type=int, default=2000)
    c.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    if args.command == "throughput-one":
        print(json.dumps(throughput_one(args.head, args.trailers, args.device, args.batch_size)))
    else:
        {"throughput": throughput, "mulan": mulan, "cooccurrence": cooccurrence}[args.command](args)


if __name__ == "__main__":
    main()
