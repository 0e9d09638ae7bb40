"""The demo's Markdown report: what ran, on what data, with which models, and what came out."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any


def write_demo_report(
    path: Path,
    clips: list[Any],
    media: dict[str, Any],
    choice: Any,
    seeded: list[str],
    steps: list[tuple[str, float]],
    report_dir: Path,
    heads: list[Path],
    prediction: dict[str, Any],
    wall_s: float,
) -> Path:
    folds = json.loads((report_dir / "summary.json").read_text())
    per_fold = {
        h.name: json.loads((report_dir / h.name / "metrics.json").read_text()) for h in heads
    }
    root = path.parent
    lines = [
        "# cinefeat demo",
        "",
        f"The whole product on {len(clips)} clips cut from real sample media, in {wall_s:.0f} s. "
        "The labels are facts about each clip (what it shows and what it sounds like), not "
        "genres: the point is that a head learns them from the extracted features.",
        "",
        "## Data",
        "",
        "| source | what | licence |",
        "|---|---|---|",
        *[f"| `{m.name}` | {m.what} | {m.licence} |" for m in media.values()],
        "",
        "| label | clips |",
        "|---|---|",
        *[
            f"| {k} | {v} |"
            for k, v in sorted(Counter(label for c in clips for label in c.labels()).items())
        ],
        "",
        "## Features",
        "",
        "| feature | status |",
        "|---|---|",
        *[
            f"| `{f}` | used{' (averaged over time by the head)' if f in choice.averaged else ''} |"
            for f in choice.used
        ],
        *[f"| `{f}` | **not used**: {why} |" for f, why in choice.notices.items()],
        "",
    ]
    if seeded:
        lines += [
            f"Weights copied from `$CINEFEAT_SHARED` into the cache: {', '.join(seeded)} "
            "(checked against their pinned sha256 when loaded).",
            "",
        ]
    lines += [
        "## Commands run",
        "",
        "| command | seconds |",
        "|---|---|",
        *[f"| `{line}` | {seconds:.1f} |" for line, seconds in steps],
        "",
        f"## Evaluation: {len(heads)} stratified folds, each head tested on its own fold",
        "",
        "| metric | mean | std |",
        "|---|---|---|",
        *[
            f"| {text} | {folds['mean'][key]:.3f} | {folds['std'][key]:.3f} |"
            for key, text in SUMMARY
        ],
        "",
        "| fold | test clips | macro AP | "
        + " | ".join(f"AP {n}" for n in _labels(per_fold))
        + " |",
        "|---|---|---|" + "---|" * len(_labels(per_fold)),
        *[
            f"| [{name}]({_rel(report_dir / name / 'report.md', root)}) | {m['count']} | "
            f"{m['summary']['ap_macro']:.3f} | "
            + " | ".join(_ap(m, label) for label in _labels(per_fold))
            + " |"
            for name, m in per_fold.items()
        ],
        "",
        "Each fold's report has the per-label AP bars and precision-recall curves.",
        "",
        "## Prediction on a held-out clip",
        "",
    ]
    for video in prediction["videos"]:
        lines += [
            f"`{_rel(Path(video['video']), root)}` ({video['status']})",
            "",
            "| label | probability |",
            "|---|---|",
        ]
        lines += [f"| {item['label']} | {item['score']:.3f} |" for item in video["labels"]]
        lines += [""] + [f"- note: {n}" for n in video.get("notices", [])]
        if video.get("explain"):
            sheet = _rel(Path(video["explain"]), root)
            lines += ["", f"Keyframes most attended by the head's <CLS> token: ![]({sheet})", ""]
    path.write_text("\n".join(lines) + "\n")
    return path


SUMMARY = (
    ("ap_macro", "macro AP"),
    ("ap_micro", "micro AP"),
    ("f1_macro", "macro F1 @0.5"),
    ("ranking_loss", "ranking loss"),
)


def _labels(per_fold: dict[str, dict[str, Any]]) -> list[str]:
    return sorted({label for m in per_fold.values() for label in m["support"]})


def _ap(metrics: dict[str, Any], label: str) -> str:
    """A label without positives in a fold's test set has no AP there (never counted as 0)."""
    value = metrics["per_label_ap"].get(label)
    return "-" if value is None or label in metrics.get("excluded_labels", []) else f"{value:.3f}"


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
