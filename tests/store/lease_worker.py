"""A writer process whose life a test steps through (run as `python lease_worker.py ...`).

Like a resumed extraction run, it writes the given ids that are not committed yet, with rows
derived from each id (`store_testkit.expected_rows`). At each stage named in `--pause` it creates
`<steps>/<stage>` and waits for `<steps>/<stage>.go`, so a test can compact, or SIGKILL it, at
exactly that moment. Stages: `created` (part and lease exist, nothing committed), `committed-N`
(N-th commit done), `mid-N` (trailers of batch N added, not committed), `inside-N` (inside the
N-th commit: rows and trailer index written, commit point not yet), `closed` (writer closed,
process still alive).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_testkit import PROVENANCE, expected_rows

import cinefeat.store.writer as writer_module
from cinefeat.store import FeatureStore, TrailerRecord


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--ids", required=True, help="comma-separated trailer ids")
    parser.add_argument("--commit-every", type=int, default=2)
    parser.add_argument("--steps", required=True, help="folder for the stage marker files")
    parser.add_argument("--pause", default="", help="comma-separated stages to stop at")
    args = parser.parse_args()
    steps = Path(args.steps)
    pauses = set(filter(None, args.pause.split(",")))

    def stage(name: str) -> None:
        (steps / name).write_text("reached")
        if name in pauses:
            while not (steps / f"{name}.go").exists():
                time.sleep(0.02)

    batch = 0
    real_index = writer_module.StoreWriter._write_trailer_index

    def write_trailer_index(self: writer_module.StoreWriter, when: float) -> None:
        real_index(self, when)
        stage(f"inside-{batch + 1}")

    writer_module.StoreWriter._write_trailer_index = write_trailer_index  # type: ignore[method-assign]
    store = FeatureStore.open_or_create(args.store)
    done = set(store.ids())
    todo = [t for t in args.ids.split(",") if t not in done]
    writer = store.writer(run=args.run, worker="w", lease_interval_s=1.0)
    writer.declare_feature("clip", provenance=PROVENANCE, dim=6)
    stage("created")
    for i, tid in enumerate(todo):
        writer.add(TrailerRecord(id=tid, source_path=f"/m/{tid}"), {"clip": expected_rows(tid)})
        if (i + 1) % args.commit_every == 0:
            stage(f"mid-{batch + 1}")
            writer.commit()
            batch += 1
            stage(f"committed-{batch}")
    writer.close()
    stage("closed")


if __name__ == "__main__":
    main()
