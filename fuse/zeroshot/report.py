"""One zero-shot report: temporal attention vs uniform aggregation vs the zero rule, unseen labels.

The paper's claim is comparative (attention helps when a label lives in a few time steps), so the
report trains every variant on the same fold rotation and prints them side by side: micro and
macro F1 at the threshold chosen on validation labels, mean AP, and AP per unseen test label.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.jsonout import json_text
from cinefeat.fuse.zeroshot.folds import ZeroShotSplit
from cinefeat.fuse.zeroshot.labels import LabelEmbeddings
from cinefeat.fuse.zeroshot.metrics import evaluate_scores, zero_rule
from cinefeat.fuse.zeroshot.model import ZeroShotConfig
from cinefeat.fuse.zeroshot.rank import predict_scores
from cinefeat.fuse.zeroshot.train import TrainConfig, TrainedZeroShot
from cinefeat.fuse.zeroshot.train import train_zero_shot as _train
from cinefeat.fuse.zeroshot.upper_bound import UPPER_BOUND, supervised_upper_bound


def evaluate_trained(
    trained: TrainedZeroShot,
    data: PaddedFeatures,
    split: ZeroShotSplit,
    label_embeddings: LabelEmbeddings,
) -> dict:
    """Scores of a trained head on the test trailers x the test (unseen) labels."""
    test = data.take(split.trailers["test"], split.labels["test"])
    vectors = label_embeddings.select(split.labels["test"]).vectors
    scores = predict_scores(trained.model, test, vectors)
    return evaluate_scores(test.labels.numpy(), scores, test.label_names, trained.threshold)


def compare_zero_shot(
    data: PaddedFeatures,
    split: ZeroShotSplit,
    label_embeddings: LabelEmbeddings,
    model_config: ZeroShotConfig,
    train_config: TrainConfig | None = None,
    gammas: tuple[float, ...] = (0.5, 0.0),
    trained: dict[float, TrainedZeroShot] | None = None,
    upper_bound: bool = False,
) -> dict:
    """One head per gamma on the same split; each and the zero rule scored on test labels.

    `trained` passes heads already trained on this split (by gamma), which are not retrained.
    `upper_bound` adds the paper's supervised row: the first gamma's model trained with the test
    labels seen (`cinefeat.fuse.zeroshot.upper_bound`).
    """
    methods = {}
    done = dict(trained or {})
    for gamma in gammas:
        if gamma not in done:
            config = replace(model_config, gamma=gamma)
            done[gamma] = _train(data, split, label_embeddings, config, train_config)
        head = done[gamma]
        name = f"attention gamma={gamma:g}" if gamma > 0 else "uniform gamma=0"
        methods[name] = {
            **evaluate_trained(head, data, split, label_embeddings),
            "best_epoch": head.best_epoch,
        }
    if upper_bound:
        config = replace(model_config, gamma=gammas[0])
        methods[UPPER_BOUND] = supervised_upper_bound(
            data, split, label_embeddings, config, train_config
        )
    test = data.take(split.trailers["test"], split.labels["test"])
    methods["zero rule"] = zero_rule(test.labels.numpy(), test.label_names)
    return {
        "labels": split.labels,
        "trailers": {role: len(rows) for role, rows in split.trailers.items()},
        "dropped_trailers": split.dropped,
        "methods": methods,
    }


def _cell(value: float) -> str:
    return "  n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def format_report(report: dict) -> str:
    """Markdown: a summary table (one row per method) and per-label AP (one column per method)."""
    methods = report["methods"]
    lines = [
        f"Unseen test labels: {', '.join(report['labels']['test'])}",
        f"Trailers train/val/test: {report['trailers']['train']}/{report['trailers']['val']}/"
        f"{report['trailers']['test']} "
        f"(dropped, labels in two folds: {report['dropped_trailers']})",
        "",
        "| method | micro F1 | macro F1 | mean AP | threshold M |",
        "|---|---|---|---|---|",
    ]
    for name, row in methods.items():
        lines.append(
            f"| {name} | {_cell(row['micro_f1'])} | {_cell(row['macro_f1'])} | "
            f"{_cell(row['mean_ap'])} | {_cell(row['threshold'])} |"
        )
    lines += ["", "| label | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for label in report["labels"]["test"]:
        cells = " | ".join(_cell(row["per_label_ap"][label]) for row in methods.values())
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def save_report(report: dict, out_dir: str | Path) -> Path:
    """report.json (machine-readable) and report.md (the tables) in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json_text(report, default=float))
    (out / "report.md").write_text(format_report(report) + "\n")
    return out
