"""The result of a run: counts, throughput and where the time went, as a table or as JSON.

Why its own module: both engines (local and Ray) produce it, the Ray engine merges one per chunk,
and the CLI prints it; none of that needs the runner's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cinefeat.store.exit_codes import (  # noqa: F401  (EXIT_ERROR, EXIT_USAGE: re-exported)
    EXIT_ERROR,
    EXIT_NOTHING_USABLE,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
)

# Exit codes of `cinefeat extract`: the scheme of every command (store/exit_codes.py, docs/cli.md).
# Why distinct codes: a script running shards must tell "all done" from "done, but some trailers
# need a look" from "nothing came out", without parsing the summary. For extract, 1 means the run
# could not start (bad options, unreadable labels file, models not loadable).
EXIT_MEANINGS = {
    EXIT_OK: "all ok",
    EXIT_SOME_FAILED: "some trailers failed or are partial",
    EXIT_NOTHING_USABLE: "nothing usable: every trailer failed",
}

STAGES = ("probe", "decode", "scenes", "sampling", "models", "write")
STAGE_LABELS = {
    "probe": "probe + sha256",
    "decode": "decode",
    "scenes": "scene detection",
    "sampling": "sampling",
    "models": "models",
    "write": "write",
}


@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # id, stage, message
    # `ok` trailers some of whose features failed (a damaged stream): id -> {feature: status}
    partial: dict[str, dict[str, str]] = field(default_factory=dict)
    # trailers whose media lost or repaired something while decoding: id -> messages
    decode_issues: dict[str, list[str]] = field(default_factory=dict)

    @property
    def processed(self) -> int:
        return self.ok + self.failed

    @property
    def trailers_per_hour(self) -> float:
        return self.processed / self.wall_s * 3600 if self.wall_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """EXIT_OK, EXIT_SOME_FAILED or EXIT_NOTHING_USABLE for this run's counts.

        Skipped trailers count as usable (they were committed by an earlier run), so a rerun that
        adds one failure to a finished store says "some failed", not "nothing usable".
        """
        if self.failed == 0 and not self.partial:
            return EXIT_OK
        return EXIT_SOME_FAILED if self.ok + self.skipped > 0 else EXIT_NOTHING_USABLE

    def merge(self, other: Summary) -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.skipped += other.skipped
        self.wall_s = max(self.wall_s, other.wall_s)
        for stage, seconds in other.stage_s.items():
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + seconds
        self.failures += other.failures
        self.partial.update(other.partial)
        self.decode_issues.update(other.decode_issues)

    def to_dict(self, total: int) -> dict[str, Any]:
        return {
            "trailers": total,
            "ok": self.ok,
            "partial": len(self.partial),
            "failed": self.failed,
            "skipped": self.skipped,
            "wall_s": round(self.wall_s, 3),
            "trailers_per_hour": round(self.trailers_per_hour, 1),
            "stage_s": {k: round(v, 3) for k, v in self.stage_s.items()},
            "failures": [{"id": i, "stage": s, "error": e} for i, s, e in self.failures],
            "partial_trailers": [{"id": i, "features": f} for i, f in self.partial.items()],
            "decode_issues": [{"id": i, "messages": m} for i, m in self.decode_issues.items()],
            "exit_code": self.exit_code,
        }

    def table(self) -> str:
        """Counts, rate, and the per-stage time table (stage times are summed over trailers;
        with decode overlapping inference their sum can exceed the wall time)."""
        partial = f" ({len(self.partial)} partial)" if self.partial else ""
        lines = [
            f"{self.ok} ok{partial}, {self.failed} failed, {self.skipped} skipped in "
            f"{self.wall_s:.1f} s ({self.trailers_per_hour:.0f} trailers/hour)",
            f"{'stage':<18}{'seconds':>10}{'share':>8}",
        ]
        busy = sum(self.stage_s.values()) or 1.0
        for key, label in STAGE_LABELS.items():
            seconds = self.stage_s.get(key, 0.0)
            lines.append(f"{label:<18}{seconds:>10.2f}{seconds / busy:>8.0%}")
        for trailer, features in sorted(self.partial.items()):
            for name, status in sorted(features.items()):
                lines.append(f"partial   {trailer}: {name} {status}")
        for trailer, messages in sorted(self.decode_issues.items()):
            for message in messages:
                lines.append(f"media     {trailer}: {message}")
        lines.append(f"exit code {self.exit_code}: {EXIT_MEANINGS[self.exit_code]}")
        return "\n".join(lines)
