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
    prediction: dict[str, Any],
    wall_s: float,
) -> Path:
    metrics = json.loads((report_dir / "metrics.json").read_text())
    summary = metrics["summary"]
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
        f"## Evaluation on the test split ({metrics['count']} clips)",
        "",
        "| metric | value |",
        "|---|---|",
        f"| macro AP | {summary['ap_macro']:.3f} |",
        f"| micro AP | {summary['ap_micro']:.3f} |",
        f"| macro F1 @0.5 | {summary['f1_macro']:.3f} |",
        f"| ranking loss | {summary['ranking_loss']:.3f} |",
        "",
        "| label | positives | AP |",
        "|---|---|---|",
        *[
            f"| {name} | {metrics['support'].get(name, 0)} | {ap:.3f} |"
            for name, ap in metrics["per_label_ap"].items()
        ],
        "",
        f"Full report with plots: [{_rel(report_dir / 'report.md', root)}]"
        f"({_rel(report_dir / 'report.md', root)})",
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


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
