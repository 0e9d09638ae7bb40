"""A writer process for the concurrency and crash tests (run as `python store_worker.py ...`).

Writes the given trailer ids that are not yet committed (what a resumed extraction run does), with
rows derived from each id so any process can check them. `--hang-at-batch N --hang-point P`
makes the process announce itself (`--marker`) and freeze inside the N-th commit, after the
point P ("rows": feature rows written; "index": trailer index written, commit point not yet),
so the test can SIGKILL it exactly mid-batch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_testkit import (
    PROVENANCE,
    expected_rows,
)

import cinefeat.store.writer as writer_module
from cinefeat.store import FeatureStore, TrailerRecord


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--ids", required=True, help="comma-separated trailer ids")
    parser.add_argument("--commit-every", type=int, default=3)
    parser.add_argument("--barrier", help="wait until this file exists before writing")
    parser.add_argument("--hang-at-batch", type=int, default=0)
    parser.add_argument("--hang-point", choices=["rows", "index"], default="rows")
    parser.add_argument("--marker", help="file created when the process freezes")
    args = parser.parse_args()

    if args.barrier:
        while not Path(args.barrier).exists():
            time.sleep(0.01)
    store = FeatureStore.open_or_create(args.store)
    done = set(store.ids())
    todo = [t for t in args.ids.split(",") if t not in done]
    batches = {"n": 0}

    def freeze() -> None:
        Path(args.marker).write_text("frozen")
        time.sleep(3600)

    if args.hang_at_batch:
        real_features = writer_module.StoreWriter._write_features
        real_index = writer_module.StoreWriter._write_trailer_index

        def write_features(self, counts):
            real_features(self, counts)
            if batches["n"] == args.hang_at_batch and args.hang_point == "rows":
                freeze()

        def write_trailer_index(self, when):
            real_index(self, when)
            if batches["n"] == args.hang_at_batch and args.hang_point == "index":
                freeze()

        writer_module.StoreWriter._write_features = write_features
        writer_module.StoreWriter._write_trailer_index = write_trailer_index

    with store.writer(run=args.run, worker="w") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=6)
        for i, tid in enumerate(todo):
            writer.add(TrailerRecord(id=tid, source_path=f"/m/{tid}"), {"clip": expected_rows(tid)})
            if (i + 1) % args.commit_every == 0:
                batches["n"] += 1
                writer.commit()
        batches["n"] += 1


if __name__ == "__main__":
    main()
