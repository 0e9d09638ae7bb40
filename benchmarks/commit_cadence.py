"""What committing every trailer costs, against committing every 8 or 32 (docs/bench-store.md).

Why: a crash loses the trailers not yet committed, so committing each finished trailer is what
makes a killed extraction resume where it stopped; this measures what that safety costs in write
time. Same synthetic rows as `store_bench.py` (20..400 rows of 512-d float16 per trailer); each
cadence writes the same trailers into a fresh store; best of `--repeat` interleaved rounds. Also
times the two checks every commit now makes (lease refresh, "was my part compacted away?") on
their own. Run: `python benchmarks/commit_cadence.py [--trailers N] [--repeat R]`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from store_bench import DIM, spans_for, synthetic

from cinefeat.store import FeatureRows, FeatureStore, TrailerRecord

CADENCES = (1, 8, 32)


def write(path: Path, data: dict, every: int) -> tuple[float, int]:
    """(seconds, commits) to write `data` committing every `every` trailers."""
    store = FeatureStore.create(path)
    start = time.perf_counter()
    with store.writer(run="bench", commit_every=every) as writer:
        writer.declare_feature("clip", provenance={"model": "synthetic"}, dim=DIM)
        for tid, values in data.items():
            writer.add(TrailerRecord(id=tid), {"clip": FeatureRows(values, spans_for(values))})
        commits = writer._commit["sequence"]
    return time.perf_counter() - start, commits


def check_cost(path: Path, rounds: int = 200) -> tuple[float, float]:
    """Milliseconds of one lease refresh and of one supersession check, on a store of 20 parts."""
    store = FeatureStore.create(path)
    for i in range(19):
        with store.writer(run=f"other{i}") as writer:
            writer.add(TrailerRecord(id=f"x{i}"))
    writer = store.writer(run="probe")
    start = time.perf_counter()
    for _ in range(rounds):
        writer.lease.refresh()
    refresh = (time.perf_counter() - start) / rounds * 1e3
    start = time.perf_counter()
    for _ in range(rounds):
        writer._replaced()
    replaced = (time.perf_counter() - start) / rounds * 1e3
    writer.close()
    return refresh, replaced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trailers", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    data = synthetic(args.trailers)
    rows = sum(len(v) for v in data.values())
    best: dict[int, tuple[float, int]] = {}
    root = Path(tempfile.mkdtemp(prefix="cadence-"))
    try:
        for r in range(args.repeat):
            for every in CADENCES:
                path = root / f"s{every}-{r}"
                seconds, commits = write(path, data, every)
                if every not in best or seconds < best[every][0]:
                    best[every] = (seconds, commits)
                shutil.rmtree(path)
        refresh, replaced = check_cost(root / "checks")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.trailers} trailers, {rows} rows x {DIM} float16, best of {args.repeat}")
    print("| commit every | commits | write s | ms per trailer | ms per commit | vs every 32 |")
    print("|---|---|---|---|---|---|")
    base = best[CADENCES[-1]][0]
    for every in CADENCES:
        seconds, commits = best[every]
        print(
            f"| {every} | {commits} | {seconds:.2f} | {seconds / args.trailers * 1e3:.1f} | "
            f"{seconds / commits * 1e3:.1f} | {seconds / base:.2f}x |"
        )
    print(f"lease refresh {refresh:.2f} ms, supersession check (20 parts) {replaced:.2f} ms")


if __name__ == "__main__":
    main()
