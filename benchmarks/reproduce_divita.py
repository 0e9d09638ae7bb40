"""DIViTA's Trailers12k transfer protocol on an imported store, the paper's table beside ours.

    cinefeat import trailers12k --download data/ --store t12k.zarr
    python benchmarks/reproduce_divita.py t12k.zarr --out runs/divita

The protocol, as richardtml/DIViTA's public code states it (`experiment.py` `transfer`,
`train.py`): for each backbone row, the image (`ix`) and/or video (`vx`) representation;
the three splits `split0..split2` (the importer's store splits `trailers12k_split0..2`); the
dual clip transformer over 30-clip windows (`--num_clips 30`, cinefeat's
`clip-aggregation:divita`); AdamW with AMSGrad, lr 1e-4 (`experiment.py`), PyTorch's default
weight decay 0.01, batch 32, at most 100 epochs; ReduceLROnPlateau on the validation loss
(patience 10, factor 0.1); early stopping and model choice on the validation loss (patience 20);
unweighted `BCEWithLogitsLoss`. The scores are DIViTA's trapezoid PR areas (`compute_full_metrics`:
muAP, mAP, wAP, sAP = cinefeat's `pr_auc_trapezoid_{micro,macro,weighted,samples}`), as mean and
sample std (ddof 1) over the three splits. The paper's numbers are Table 6 of the paper, as its
README reprints them. Rows whose representations are not in the store are skipped, saying so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paper_protocol import Protocol, mean_std, run

# experiment.py `transfer`: (image representation, video representation) per table row
ROWS = {
    "ShuffleNet-2D": ("i_shufflenet_fpc24", None),
    "ShuffleNet-3D": (None, "k_shufflenet_fps24_fpc24"),
    "ShuffleNet-Fusion": ("i_shufflenet_fpc24", "k_shufflenet_fps24_fpc24"),
    "ResNet": ("i_resnet_fpc24", None),
    "R2+1D": (None, "k_r2plus1d_fps24_fpc24"),
    "ResNet-Fusion": ("i_resnet_fpc24", "k_r2plus1d_fps24_fpc24"),
    "Swin-2D": ("i_swin_fpc24", None),
    "Swin-3D": (None, "ik_swin_fps24_fpc24"),
}
# README "Results" (Table 6): muAP, mAP, wAP, sAP as (mean, std) in percent
PAPER = {
    "ShuffleNet-2D": ((71.69, 0.44), (66.47, 0.73), (70.51, 0.50), (76.60, 0.77)),
    "ShuffleNet-3D": ((63.43, 1.54), (58.18, 1.50), (63.59, 1.46), (69.49, 1.58)),
    "ShuffleNet-Fusion": ((72.11, 0.56), (67.08, 0.37), (71.42, 0.41), (76.66, 0.73)),
    "ResNet": ((70.92, 3.49), (66.16, 2.45), (70.23, 2.11), (75.85, 3.05)),
    "R2+1D": ((71.76, 2.72), (66.09, 2.44), (70.81, 2.21), (76.33, 2.02)),
    "ResNet-Fusion": ((73.28, 0.66), (68.03, 0.63), (72.14, 0.72), (77.76, 0.44)),
    "Swin-2D": ((72.96, 4.17), (67.68, 2.63), (71.70, 2.44), (77.77, 4.08)),
    "Swin-3D": ((75.71, 2.43), (70.44, 2.10), (74.30, 2.11), (80.19, 2.61)),
}
METRICS = ("micro", "macro", "weighted", "samples")  # muAP, mAP, wAP, sAP


def protocol(features: list[str], split: str, epochs: int, window: int) -> Protocol:
    return Protocol(
        head="clip-aggregation:divita",
        features=features,
        split=split,
        normalize=False,  # data.py feeds the zarr arrays as they are
        head_options={"window": window},
        train={
            "epochs": epochs,
            "lr": 1e-4,
            "batch_size": 32,
            "optimizer": "adamw",
            "amsgrad": True,
            "weight_decay": 0.01,
            "pos_weight": 1.0,
            "schedule": "plateau",
            "plateau_patience": 10,
            "gamma": 0.1,
            "patience": 20,
            "select_by": "loss",
        },
    )


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="a store written by `cinefeat import trailers12k`")
    parser.add_argument("--out", required=True, help="folder for the trained heads")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated table rows")
    parser.add_argument("--splits", default="0,1,2")
    parser.add_argument("--prefix", default="trailers12k", help="the importer's --prefix")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--window", type=int, default=30, help="clips per window (num_clips)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from cinefeat.store import FeatureStore

    chosen = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [row for row in chosen if row not in ROWS]
    if unknown:
        parser.error(f"--rows: {unknown} not in {', '.join(ROWS)}")
    present = set(FeatureStore.open(args.store).features())
    results = []
    for row in chosen:
        features = [f"{args.prefix}_{rep}" for rep in ROWS[row] if rep]
        missing = [f for f in features if f not in present]
        if missing:
            print(f"skipping {row}: the store has no {', '.join(missing)}", file=sys.stderr)
            continue
        per_split = []
        for split in [s.strip() for s in args.splits.split(",") if s.strip()]:
            plan = protocol(features, f"{args.prefix}_split{split}", args.epochs, args.window)
            per_split.append(run(args.store, plan, Path(args.out) / row / f"split{split}"))
        ours = {m: mean_std([s[f"pr_auc_trapezoid_{m}"] for s in per_split]) for m in METRICS}
        results.append({"row": row, "paper": PAPER[row], "ours": ours, "splits": len(per_split)})
    if args.json:
        print(json.dumps(results, indent=2))
        return results
    print("| backbone | | muAP | mAP | wAP | sAP |")
    print("|---|---|---|---|---|---|")
    for result in results:
        paper = " | ".join(f"{m:.2f}±{s:.2f}" for m, s in result["paper"])
        ours = " | ".join(
            f"{100 * m:.2f}±{100 * s:.2f}" for m, s in (result["ours"][k] for k in METRICS)
        )
        print(f"| {result['row']} | paper | {paper} |")
        print(f"| | cinefeat ({result['splits']} splits) | {ours} |")
    return results


if __name__ == "__main__":
    main()
