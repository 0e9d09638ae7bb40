"""`cinefeat tune`: grid search over a few hyper-parameters, chosen by the `--select-by` score.

The score that picks the best run is the one that picked each run's best epoch (`TrainConfig.
select_by`: validation macro AP, validation loss, or Cai et al.'s sum of AU(PRC)s), so a run is
compared by the value its own early stopping maximised (higher = better; the loss is negated).

Grid keys may be training options (lr, batch_size, epochs, pos_weight, optimizer, weight_decay)
or fields of the head's config (d_model, layers, dropout, ...). Every combination trains from the
same seed on the same split; the test split is never looked at here.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import shutil
from pathlib import Path
from typing import Any

from cinefeat.fuse.runs import DataOptions, LoadedSplit, train_head
from cinefeat.fuse.train import TrainConfig
from cinefeat.store.jsonout import json_text

TRAIN_KEYS = {f.name for f in dataclasses.fields(TrainConfig)}


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """`--grid lr=1e-5,1e-4 --grid d_model=128,256` -> {"lr": [...], "d_model": [...]}."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--grid {item!r} must be KEY=V1,V2,..., e.g. --grid lr=1e-5,1e-4")
        grid[key.strip().replace("-", "_")] = [v.strip() for v in values.split(",")]
    return grid


def combinations(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    keys = sorted(grid)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]


def run_grid(
    store: Any,
    data: LoadedSplit,
    options: DataOptions,
    head_name: str,
    head_options: dict[str, Any],
    base: TrainConfig,
    grid: dict[str, list[str]],
    out_dir: str | Path,
) -> dict[str, Any]:
    out_dir = Path(out_dir)
    results = []
    for index, combo in enumerate(combinations(grid)):
        train_changes = {}
        for key, value in combo.items():
            if key in TRAIN_KEYS:
                kind = type(getattr(base, key))
                train_changes[key] = value.lower() in ("1", "true") if kind is bool else kind(value)
        head_changes = {k: v for k, v in combo.items() if k not in TRAIN_KEYS}
        config = dataclasses.replace(base, **train_changes)
        run_dir = out_dir / f"run-{index:03d}"
        _, result = train_head(
            store, data, options, head_name, {**head_options, **head_changes}, config, run_dir
        )
        results.append(
            {
                "run": run_dir.name,
                "params": combo,
                "val_ap_macro": result.best_val_ap,
                "select_by": result.select_by,
                "score": result.best_score,
            }
        )
    finite = [r for r in results if math.isfinite(r["score"])]
    if not finite:
        raise ValueError(
            f"no run of the grid has a finite validation score (--select-by {base.select_by}; no "
            "validation split, or no positive label in it): tune needs a validation split to "
            "choose by"
        )
    best = max(finite, key=lambda r: r["score"])
    if (out_dir / "best").exists():
        shutil.rmtree(out_dir / "best")
    shutil.copytree(
        out_dir / best["run"], out_dir / "best", ignore=shutil.ignore_patterns("checkpoints")
    )
    summary = {
        "head": head_name,
        "grid": grid,
        "select_by": base.select_by,
        "results": results,
        "best": best,
    }
    (out_dir / "tune.json").write_text(json_text(summary))
    return summary
