"""Record the ids that several files map to as failed trailers, so the rest of the batch runs.

Why a record and not an error: one `a.mp4` next to an `a.mkv` in a scraped collection of 50,000
trailers used to refuse the whole run. Now the id is committed `failed` at stage `scan` with a
message naming every file, the run summary lists it and the exit code says "some failed". The
record is written through the ordinary store writer, like any other failed trailer.

Two cases keep the store as it is: an id whose last record is `ok` (its features came from one
file before the other appeared, and stay valid for that file), and an id already recorded with
the same collision (a rerun does not pile up identical records). Both still count as failed in
this run's summary, since the directory still holds the ambiguity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cinefeat.extract.plan import last_record
from cinefeat.extract.runner import default_record_factory
from cinefeat.extract.scan import SCAN_STAGE, Collision
from cinefeat.extract.summary import Summary


def record_collisions(
    store: Any,
    collisions: list[Collision],
    run_id: str,
    worker_id: str,
    record_factory: Callable[..., Any] = default_record_factory,
) -> Summary:
    """Commit a failed record per colliding id (where needed); the summary counts each failed."""
    summary = Summary()
    records = []
    for collision in collisions:
        message = collision.message
        summary.failed += 1
        summary.failures.append((collision.id, SCAN_STAGE, message))
        previous = last_record(store, collision.id)
        if previous is not None and (
            previous.status == "ok" or (previous.stage, previous.error) == (SCAN_STAGE, message)
        ):
            continue
        records.append(
            record_factory(
                id=collision.id,
                status="failed",
                stage=SCAN_STAGE,
                error=message,
                extra={"colliding_paths": [str(p) for p in collision.paths]},
            )
        )
    if records:
        with store.writer(run=run_id, worker=worker_id) as writer:
            for record in records:
                writer.add(record)
    return summary
