"""`TrailerRecord`: what the store remembers about one trailer besides its feature rows.

Records are stored as one JSON string per committed trailer, so new optional fields can be added
later without a format change; unknown fields in a stored record are kept in `extra` rather than
dropped, so an older cinefeat reading a newer store loses nothing on compaction.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Status = Literal["ok", "failed"]
STATUSES: tuple[str, ...] = ("ok", "failed")
OUTCOMES: tuple[str, ...] = ("ok", "partial", "failed")
"""What a trailer's extraction came to. `partial` is not a stored status: it is a trailer whose
status is `ok` (its rows are committed and usable) while some `feature_status` says `failed: ...`
(a damaged audio stream failed the audio features, say). Deriving it keeps every reader that
selects usable trailers by `status == "ok"` correct, and old stores need no rewrite."""


@dataclass
class TrailerRecord:
    """One trailer: identity, source, outcome of extraction, and per-stage wall time (seconds).

    `status` is "ok" or "failed"; a failed trailer names the `stage` and the `error` text.
    `feature_status` maps a feature to "ok", "failed: ..." or "missing: ..." (e.g. no audio).
    """

    id: str
    source_path: str | None = None
    source_sha256: str | None = None
    duration_s: float | None = None
    status: str = "ok"
    stage: str | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    feature_status: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"trailer id must be a non-empty string, got {self.id!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def outcome(self) -> str:
        """`ok`, `partial` (ok, but some features failed) or `failed` (see OUTCOMES)."""
        if self.status == "failed":
            return "failed"
        failed = any(str(v).startswith("failed") for v in self.feature_status.values())
        return "partial" if failed else "ok"

    @property
    def failed_features(self) -> list[str]:
        return sorted(k for k, v in self.feature_status.items() if str(v).startswith("failed"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> TrailerRecord:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        extra = dict(data.pop("extra", None) or {})
        extra.update({k: data.pop(k) for k in list(data) if k not in known})
        return cls(**data, extra=extra)
