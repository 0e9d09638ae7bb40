"""The null-model pipeline of two checkouts side by side, against the decode floor (issue 21).

Why: on a shared machine two separate benchmark runs minutes apart see different loads, so a
before/after comparison of the pipeline's own cost has to interleave the two versions in one
run. Each round measures the ffmpeg floor here, then `throughput.py`'s own `run_pipeline` (the
null model, `--workers 1` and `2`) once in each checkout's virtual environment, in a child
process (`--child`) so each imports its own `cinefeat`; the children's spawned workers re-import
this file, which registers the null models through `throughput.py`. Reported: the best of the
rounds, CPU time (user + system, process and children) and the ratio to the floor's CPU.

Usage: CINEFEAT_SHARED=../shared python benchmarks/throughput_vs.py /work/main . [--rounds 2]
Each checkout needs its `.venv` with `cinefeat` installed (editable).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_env import cpu_name, make_video


def _child_throughput(checkout: str) -> object:
    """`throughput.py` of `checkout` (this checkout's own file when run as `--child`)."""
    sys.path.insert(0, str(Path(checkout) / "benchmarks"))
    import throughput

    return throughput


if len(sys.argv) > 2 and sys.argv[1] == "--child":
    _child_throughput(sys.argv[2])  # registers the null models here and in spawned workers


def child(checkout: str, paths: list[Path], workers: list[int]) -> dict[str, list[float]]:
    """(wall, cpu) of `checkout`'s null pipeline per worker count, from a child process."""
    command = [
        str(Path(checkout) / ".venv" / "bin" / "python"),
        __file__,
        "--child",
        checkout,
        json.dumps([str(p) for p in paths]),
        json.dumps(workers),
    ]
    env = dict(os.environ, CINEFEAT_CACHE=tempfile.mkdtemp())
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_child(checkout: str, paths: list[str], workers: list[int]) -> None:
    throughput = _child_throughput(checkout)
    out = {}
    for count in workers:
        workdir = Path(tempfile.mkdtemp())
        measure = throughput.run_pipeline([Path(p) for p in paths], count, workdir)
        out[str(count)] = [measure.wall, measure.cpu]
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="checkout of the old version (e.g. /work/main)")
    parser.add_argument("after", help="checkout of the new version")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--copies", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.after) / "benchmarks"))
    from throughput import decode_floor

    workers = [1, 2]
    workdir = Path(tempfile.mkdtemp(prefix="cinefeat-vs-"))
    media = Path(os.environ.get("CINEFEAT_SHARED", "/nonexistent")) / "media"
    datasets = {}
    if (media / "trailer_bbb.mp4").exists():
        sources = [media / "trailer_bbb.mp4", media / "bikes.mp4"]
        datasets["shared media (trailer_bbb + bikes)"] = sources * args.copies
    synthetic = make_video(workdir / "synthetic.mp4", 60, "854x480")
    datasets["synthetic 1 min 854x480"] = [synthetic] * args.copies
    print(f"CPU: {cpu_name()}; {os.cpu_count()} CPUs; best of {args.rounds} rounds", flush=True)
    versions = {"before": args.before, "after": args.after}
    for name, paths in datasets.items():
        rounds: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for count in workers:
                measure = decode_floor(paths, count)
                rounds.setdefault(f"floor {count}", []).append((measure.wall, measure.cpu))
            for label, checkout in versions.items():
                for count, (wall, cpu) in child(checkout, paths, workers).items():
                    rounds.setdefault(f"{label} {count}", []).append((wall, cpu))
        print(f"\n### {name}: {len(paths)} trailers (load {os.getloadavg()[0]:.1f})\n")
        print("| measure | CPU s | wall s | CPU / floor | CPU per trailer |")
        print("|---|---:|---:|---:|---:|")
        for key, values in rounds.items():
            cpu = min(c for _, c in values)
            floor = min(c for _, c in rounds[f"floor {key.split()[-1]}"])
            wall = min(w for w, _ in values)
            print(
                f"| {key} workers | {cpu:.2f} | {wall:.2f} | {cpu / floor:.2f} x | "
                f"{cpu / len(paths):.2f} |"
            )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        run_child(sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]))
    else:
        main()
