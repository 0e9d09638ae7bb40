"""The result of a run: counts, throughput and where the time went, as a table or as JSON.

Why its own module: both engines (local and Ray) produce it, the Ray engine merges one per chunk,
and the CLI prints it; none of that needs the runner's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    @property
    def processed(self) -> int:
        return self.ok + self.failed

    @property
    def trailers_per_hour(self) -> float:
        return self.processed / self.wall_s * 3600 if self.wall_s > 0 else 0.0

    def merge(self, other: Summary) -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.skipped += other.skipped
        self.wall_s = max(self.wall_s, other.wall_s)
        for stage, seconds in other.stage_s.items():
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + seconds
        self.failures += other.failures

    def to_dict(self, total: int) -> dict[str, Any]:
        return {
            "trailers": total,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "wall_s": round(self.wall_s, 3),
            "trailers_per_hour": round(self.trailers_per_hour, 1),
            "stage_s": {k: round(v, 3) for k, v in self.stage_s.items()},
            "failures": [{"id": i, "stage": s, "error": e} for i, s, e in self.failures],
        }

    def table(self) -> str:
        """Counts, rate, and the per-stage time table (stage times are summed over trailers;
        with decode overlapping inference their sum can exceed the wall time)."""
        lines = [
            f"{self.ok} ok, {self.failed} failed, {self.skipped} skipped in {self.wall_s:.1f} s "
            f"({self.trailers_per_hour:.0f} trailers/hour)",
            f"{'stage':<18}{'seconds':>10}{'share':>8}",
        ]
        busy = sum(self.stage_s.values()) or 1.0
        for key, label in STAGE_LABELS.items():
            seconds = self.stage_s.get(key, 0.0)
            lines.append(f"{label:<18}{seconds:>10.2f}{seconds / busy:>8.0%}")
        return "\n".join(lines)
