"""Sulun et al. 2024's MovieNet protocol on an imported store, the paper's mAP beside ours.

    cinefeat fetch movienet-sulun2024 data/
    cinefeat import movienet-sulun2024 data/ --store mn.zarr
    python benchmarks/reproduce_sulun2024.py mn.zarr --out runs/sulun2024

The protocol, as their public code states it (serkansulun/trailer-genre-classification,
`classification/src/config.py`, `dataset.py`, `train.py`):

- split: their `splits.json` (`trn` / `val` / `tst`: 18,488 / 2,642 / 5,282), the store split
  `sulun2024` that the importer writes;
- features: `clip`, `beats`, `face_emotion` as sequences cut to 160 / 144 / 80 rows (143 / 159 /
  79 for the multi-transformer, one row left for its <CLS>), `asr_sentiment` and
  `ocr_sentiment` one vector each (`SINGULAR_FEATURES`);
- heads: the `*:sulun2024` presets (one Linear for the MLP; post-norm encoders with a final
  LayerNorm, equidistant subsampling), `n_layers` 1, `d_model` 1280, `n_heads` 8, dropout 0;
- training: Adam, lr 1e-5, batch 32, gradient clipping 1.0 (not for the MLP), unweighted
  `BCEWithLogitsLoss` (`pos_weight` -1), the epoch with the best validation macro mAP kept, no
  feature normalisation (their `--normalize` / `--standardize` default off);
- score: scikit-learn's macro `average_precision_score` on the test split (cinefeat's `ap_macro`).

Their code stops on a step budget (`max_step`, `patience` in steps); here `--epochs` and
`--patience` count epochs (defaults 50 and 10). The paper states mAP 66.02 for the best
multi-transformer; their public code and README give no number for the other two, shown as n/a.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paper_protocol import Protocol, percent, run

SEQUENCES = {"clip": 160, "beats": 144, "face_emotion": 80}
SINGULAR = ("asr_sentiment", "ocr_sentiment")
PAPER_MAP = {"mlp": None, "single-transformer": None, "multi-transformer": 66.02}


def protocol(head: str, prefix: str, d_model: int, epochs: int, patience: int) -> Protocol:
    cls_row = 1 if head == "multi-transformer" else 0
    names = {name: f"{prefix}_{name}" for name in [*SEQUENCES, *SINGULAR]}
    options: dict[str, object] = {"dropout": 0.0}
    if head != "mlp":
        options |= {"d_model": d_model, "heads": 8, "layers": 1}
    return Protocol(
        head=f"{head}:sulun2024",
        features=sorted(names.values()),
        split="sulun2024",
        max_len={names[n]: length - cls_row for n, length in SEQUENCES.items()},
        average=[names[n] for n in SINGULAR],
        normalize=False,
        head_options=options,
        train={
            "epochs": epochs,
            "patience": patience,
            "lr": 1e-5,
            "batch_size": 32,
            "optimizer": "adam",
            "pos_weight": 1.0,
            "clip_norm": math.inf if head == "mlp" else 1.0,  # train.py: no clipping for mlp
            "select_by": "ap_macro",
        },
    )


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="a store written by `cinefeat import movienet-sulun2024`")
    parser.add_argument("--out", required=True, help="folder for the three trained heads")
    parser.add_argument("--heads", default=",".join(PAPER_MAP), help="comma-separated subset")
    parser.add_argument("--prefix", default="sulun2024", help="the importer's --prefix")
    parser.add_argument("--d-model", type=int, default=1280, help="their config.py default")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = []
    for head in [h.strip() for h in args.heads.split(",") if h.strip()]:
        if head not in PAPER_MAP:
            parser.error(f"--heads: {head!r} is not one of {', '.join(PAPER_MAP)}")
        plan = protocol(head, args.prefix, args.d_model, args.epochs, args.patience)
        summary = run(args.store, plan, Path(args.out) / head)
        rows.append({"head": head, "paper_map": PAPER_MAP[head], "ours": summary})
    if args.json:
        print(json.dumps(rows, indent=2))
        return rows
    print("| head | paper mAP (test) | cinefeat mAP (test) | micro AP | macro P | macro R |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        ours, paper = row["ours"], row["paper_map"]
        print(
            f"| {row['head']}:sulun2024 | {'n/a' if paper is None else f'{paper:.2f}'} "
            f"| {percent(ours['ap_macro'])} | {percent(ours['ap_micro'])} "
            f"| {percent(ours['precision_macro'])} | {percent(ours['recall_macro'])} |"
        )
    return rows


if __name__ == "__main__":
    main()
