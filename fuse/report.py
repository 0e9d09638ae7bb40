"""Evaluation reports: a Markdown page, a JSON file and PNG plots in one folder.

Plots use matplotlib's Agg backend (no display needed): per-label AP bars, and precision-recall
curves of the 5 most and 5 least frequent labels, where averages hide most.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.fuse.metrics import Evaluation, mean_and_std, precision_recall_points
from cinefeat.store.jsonout import json_text

# DIViTA's muAP/mAP/wAP/sAP are all trapezoid PR-AUCs (richardtml/DIViTA, train.py:
# `compute_full_metrics` over `pre_rec_auc` = sklearn `auc(recall, precision)`), so only the
# trapezoid rows carry their names; the step-wise APs are scikit-learn's `average_precision_score`.
SUMMARY_ORDER = (
    ("ap_macro", "macro AP, step-wise (Sulun et al. mAP)"),
    ("ap_micro", "micro AP, step-wise"),
    ("ap_weighted", "weighted AP, step-wise"),
    ("ap_samples", "samples AP, step-wise"),
    ("pr_auc_trapezoid_micro", "micro PR-AUC, trapezoid (DIViTA muAP)"),
    ("pr_auc_trapezoid_macro", "macro PR-AUC, trapezoid (DIViTA mAP)"),
    ("pr_auc_trapezoid_weighted", "weighted PR-AUC, trapezoid (DIViTA wAP)"),
    ("pr_auc_trapezoid_samples", "samples PR-AUC, trapezoid (DIViTA sAP)"),
    ("precision_macro", "macro precision @0.5 (Sulun et al.)"),
    ("recall_macro", "macro recall @0.5 (Sulun et al.)"),
    ("f1_macro", "macro F1 @0.5"),
    ("f1_micro", "micro F1 @0.5"),
    ("precision_weighted", "weighted precision @0.5"),
    ("recall_weighted", "weighted recall @0.5"),
    ("f1_weighted", "weighted F1 @0.5"),
    ("ranking_loss", "ranking loss (lower is better)"),
)


def _plots(
    folder: Path,
    evaluation: Evaluation,
    y_true: np.ndarray,
    y_score: np.ndarray,
    label_names: Sequence[str],
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    names = list(evaluation.per_label_ap)
    figure, axes = plt.subplots(figsize=(max(6, 0.4 * len(names)), 4))
    axes.bar(names, [evaluation.per_label_ap[n] for n in names])
    axes.set_ylabel("AP")
    axes.set_ylim(0, 1)
    axes.tick_params(axis="x", rotation=90)
    figure.tight_layout()
    figure.savefig(folder / "per_label_ap.png", dpi=100)
    plt.close(figure)
    written.append("per_label_ap.png")
    support = y_true.sum(axis=0)
    order = [c for c in np.argsort(-support, kind="stable") if support[c] > 0]
    groups = {"most_frequent": order[:5], "least_frequent": order[-5:][::-1]}
    for group, columns in groups.items():
        figure, axes = plt.subplots(figsize=(5, 4))
        for c in columns:
            precision, recall, _ = precision_recall_points(y_true[:, c], y_score[:, c])
            axes.step(
                np.r_[0, recall],
                np.r_[1, precision],
                where="pre",
                label=f"{label_names[c]} (n={int(support[c])})",
            )
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        axes.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(folder / f"pr_{group}.png", dpi=100)
        plt.close(figure)
        written.append(f"pr_{group}.png")
    return written


def write_report(
    folder: str | Path,
    evaluation: Evaluation,
    y_true: np.ndarray,
    y_score: np.ndarray,
    label_names: Sequence[str],
    title: str = "Evaluation",
    context: dict[str, Any] | None = None,
) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(folder, evaluation, np.asarray(y_true) > 0, np.asarray(y_score), label_names)
    lines = [f"# {title}", ""]
    for key, value in (context or {}).items():
        lines.append(f"- {key}: {value}")
    lines += [
        "",
        f"{evaluation.extra.get('count', len(y_true))} trailers.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {text} | {evaluation.summary[key]:.4f} |" for key, text in SUMMARY_ORDER]
    if evaluation.excluded_labels:
        lines += [
            "",
            "Labels with no positive example, excluded from macro AP: "
            + ", ".join(evaluation.excluded_labels),
        ]
    lines += ["", "| label | positives | AP |", "|---|---|---|"]
    for name in label_names:
        ap = evaluation.per_label_ap.get(name)
        lines.append(
            f"| {name} | {evaluation.support[name]} | {'excluded' if ap is None else f'{ap:.4f}'} |"
        )
    lines += [""] + [f"![{p}]({p})" for p in plots] + [""]
    (folder / "report.md").write_text("\n".join(lines))
    (folder / "metrics.json").write_text(json_text(evaluation.to_dict()))
    return folder / "report.md"


def write_summary(folder: str | Path, runs: dict[str, dict[str, float]]) -> Path:
    """mean +- std over several heads/splits/seeds (`runs`: {run name: summary})."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stats = mean_and_std(list(runs.values()))
    lines = [
        f"# Mean ± std over {len(runs)} runs",
        "",
        "Runs: " + ", ".join(runs),
        "",
        "| metric | mean | std |",
        "|---|---|---|",
    ]
    lines += [
        f"| {text} | {stats[key][0]:.4f} | {stats[key][1]:.4f} |"
        for key, text in SUMMARY_ORDER
        if key in stats
    ]
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
    (folder / "summary.json").write_text(
        json_text(
            {
                "runs": runs,
                "mean": {k: v[0] for k, v in stats.items()},
                "std": {k: v[1] for k, v in stats.items()},
            },
            indent=2,
        )
    )
    return folder / "summary.md"
