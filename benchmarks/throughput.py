"""Throughput against the decode floor, scaling over cores, and peak RSS per worker (issue 21).

Prints the CPU model first (lscpu), then, measured side by side in one run on this machine:

- **throughput** on two datasets, the shared media (`trailer_bbb.mp4` and `bikes.mp4`, each
  listed `--copies` times as distinct trailers) and a synthetic video made with imageio-ffmpeg's
  ffmpeg (854x480, 24 fps, a hard cut every 4 s, a tone; also `--copies` trailers):
  - the decode floor: `ffmpeg -i X -f null -` over every file, one at a time (ffmpeg's own
    threads, as `extract_bench.py`), and with one process per worker (`--workers 2`'s floor);
  - the null-model pipeline with `--workers 1` (one `LocalRunner` in this process, the CLI's path
    for one worker) and `--workers 2` (`extract.processes.run_processes`, the CLI's path for more);
  - trailers/s, frames/s, the ratio to the matching floor, and the scaling ratio w1 / w2;
- **peak RSS per worker** for a generated 3-minute 1080p video (`--long`: also a 30-minute one,
  which takes long to encode and decode here) with the features of the bundled demo that run
  offline (colorhist, and musicnet when its weights are in `$CINEFEAT_SHARED`), each measured in
  a fresh process (the high-water mark `VmHWM` of that worker process), against
  the bound stated in `extract/runner.py` (0.3 GB a worker besides its models).

The null model (`null_scene`, `null_every12`, `null_shots`) requests exactly what
`extract_bench.py`'s null extractors request (scene-middle, every-k, shot-clips at 224 px) and
returns zeros: what is measured is decode + colour conversion + scene detection + sampling +
write. They are registered at import, so the `spawn`ed worker processes (which re-import this
file as `__mp_main__`) know them too.

Each measure is the best of `--repeat` interleaved rounds (the machine is shared; the minimum is
the least disturbed, as `timeit` reports).

Usage: CINEFEAT_SHARED=../shared python benchmarks/throughput.py [--copies 3] [--minutes 1]
       [--repeat 2] [--long]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_env import cpu_name, ffmpeg_exe, make_video

from cinefeat.extract.base import BatchExtractor, ExtractorConfig, FrameRequest, register_extractor

RUNNER_BOUND_BYTES = 300 << 20  # extract/runner.py: "under about 0.3 GB besides its models"


@dataclass
class NullConfig(ExtractorConfig):
    sampler: str = "scene-middle"


class _Null(BatchExtractor):
    """A frame extractor that costs nothing: the pipeline's own cost is what is left."""

    kind = "frames"
    config_class = NullConfig
    uses_device = False
    config: NullConfig

    @property
    def dim(self) -> int:
        return 8

    def request(self) -> FrameRequest:
        return FrameRequest(sampler=self.config.sampler, short_side=224)

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        pass

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        return np.zeros((len(items), 8), np.float32)


NULL_FEATURES = {
    "null_scene": "scene-middle",
    "null_every12": "every-k",
    "null_shots": "shot-clips",
}
for _name, _sampler in NULL_FEATURES.items():
    register_extractor(
        type(_name, (_Null,), {"name": _name, "config_class": NullConfig}),
        description=f"benchmark null model ({_sampler})",
    )
NULL_OVERRIDES = {name: {"sampler": sampler} for name, sampler in NULL_FEATURES.items()}


@dataclass
class Measure:
    wall: float  # seconds
    cpu: float  # core-seconds (user + system) of every process doing the work


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Wall time and CPU time of this process and of the children it reaps meanwhile (ffmpeg,
    the spawned worker processes: a pool's processes are reaped when it shuts down)."""

    def __enter__(self) -> Clock:
        self.started = time.perf_counter()
        self.cpu = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc: object) -> None:
        cpu = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)
        self.measure = Measure(time.perf_counter() - self.started, cpu - self.cpu)


def decode_floor(paths: list[Path], processes: int) -> Measure:
    """`ffmpeg -f null` over every file, `processes` of them at a time."""

    def one(path: Path) -> None:
        command = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"]
        subprocess.run(command, check=True)

    with Clock() as clock, ThreadPoolExecutor(processes) as pool:
        list(pool.map(one, paths))
    return clock.measure


def run_pipeline(paths: list[Path], workers: int, workdir: Path) -> Measure:
    """The null-model extraction of `paths` into a fresh store, as the CLI runs it."""
    from cinefeat.extract.extractors import EXTRACTORS
    from cinefeat.extract.processes import run_processes
    from cinefeat.extract.runner import LocalRunner, RunOptions
    from cinefeat.extract.scan import Trailer
    from cinefeat.store import FeatureStore

    store_path = Path(tempfile.mkdtemp(dir=workdir)) / "store.zarr"
    store = FeatureStore.create(store_path)
    trailers = [Trailer(f"t{i:02d}", path) for i, path in enumerate(paths)]
    names = list(NULL_FEATURES)
    options = RunOptions(run_id="bench", worker_id="w")
    with Clock() as clock:
        if workers == 1:
            extractors = {n: EXTRACTORS.create(n, **NULL_OVERRIDES[n]) for n in names}
            runner = LocalRunner(store, extractors, options)
            runner.load()
            summary = runner.run(trailers)
        else:
            summary = run_processes(store_path, names, NULL_OVERRIDES, options, trailers, workers)
    if summary.ok != len(trailers):
        raise RuntimeError(f"pipeline run failed: {summary.failures}")
    return clock.measure


def worker_startup() -> Measure:
    """What a spawned worker spends before its first trailer: a fresh interpreter importing the
    extraction stack (the models here cost nothing to load)."""
    code = "import cinefeat.extract.extractors, cinefeat.extract.runner, cinefeat.store"
    with Clock() as clock:
        subprocess.run([sys.executable, "-c", code], check=True)
    return clock.measure


def frame_count(path: Path) -> int:
    from cinefeat.extract.probe import probe

    info = probe(path)
    return round(info.duration_s * info.fps)


def throughput_table(name: str, paths: list[Path], repeat: int, workdir: Path) -> str:
    rounds: dict[str, list[Measure]] = {"floor1": [], "floor2": [], "w1": [], "w2": []}
    load = [os.getloadavg()[0]]
    for _ in range(repeat):  # interleaved, so a slow spell hits every measure alike
        rounds["floor1"].append(decode_floor(paths, 1))
        rounds["floor2"].append(decode_floor(paths, 2))
        rounds["w1"].append(run_pipeline(paths, 1, workdir))
        rounds["w2"].append(run_pipeline(paths, 2, workdir))
    load.append(os.getloadavg()[0])
    best = {key: min(values, key=lambda m: m.wall) for key, values in rounds.items()}
    startup = worker_startup()
    frames = sum(frame_count(p) for p in paths)
    n = len(paths)

    def row(label: str, key: str, floor_key: str | None, note: str) -> str:
        m = best[key]
        ratio = f"{m.wall / best[floor_key].wall:.2f} x" if floor_key else "1 (floor)"
        cpu_ratio = f"{m.cpu / best[floor_key].cpu:.2f} x" if floor_key else "1 (floor)"
        return (
            f"| {label} | {m.wall:.2f} | {m.cpu:.2f} | {m.cpu / m.wall:.2f} | {n / m.wall:.3f} "
            f"| {frames / m.wall:.0f} | {ratio} | {cpu_ratio} | {note} |"
        )

    scaling = best["w1"].wall / best["w2"].wall
    floor_scaling = best["floor1"].wall / best["floor2"].wall
    # per trailer, the two workers' start-up taken out (it is paid once per worker per run)
    per_trailer = (best["w2"].cpu - 2 * startup.cpu) / n
    floor_per_trailer = best["floor2"].cpu / n
    return "\n".join(
        [
            f"\n### {name}: {n} trailers, {frames} frames (1-min load average "
            f"{load[0]:.1f} before, {load[1]:.1f} after, on {os.cpu_count()} CPUs)",
            "",
            "| measure | wall s | CPU s | cores busy | trailers/s | frames/s | wall / floor "
            "| CPU / floor | note |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
            row("decode floor, 1 process", "floor1", None, "`ffmpeg -f null`, its own threads"),
            row("decode floor, 2 processes", "floor2", None, "the floor `--workers 2` can reach"),
            row("null pipeline `--workers 1`", "w1", "floor1", "one LocalRunner (CLI path)"),
            row("null pipeline `--workers 2`", "w2", "floor2", "run_processes, 2 spawned"),
            f"| scaling `--workers 1` -> `--workers 2` | {scaling:.2f} x | | | | | | | floor's "
            f"own: {floor_scaling:.2f} x |",
            f"| worker start-up (spawn + imports) | {startup.wall:.2f} | {startup.cpu:.2f} | | | "
            "| | | once per worker and run |",
            f"| CPU per trailer, start-up excluded | | {per_trailer:.2f} | | | | | "
            f"{per_trailer / floor_per_trailer:.2f} x | floor: {floor_per_trailer:.2f} core-s |",
        ]
    )


# -- peak RSS of one worker ----------------------------------------------------------------------


def rss_child(video: str, features: list[str]) -> None:
    """Run one worker on one video in this (fresh) process; print its RSS as JSON."""
    import psutil

    from cinefeat.extract.extractors import EXTRACTORS
    from cinefeat.extract.runner import LocalRunner, RunOptions
    from cinefeat.extract.scan import Trailer
    from cinefeat.store import FeatureStore

    with tempfile.TemporaryDirectory() as folder:
        store = FeatureStore.create(Path(folder) / "store.zarr")
        extractors = {n: EXTRACTORS.create(n) for n in features}
        runner = LocalRunner(store, extractors, RunOptions())
        runner.load()
        loaded = psutil.Process().memory_info().rss
        started = time.perf_counter()
        summary = runner.run([Trailer("t", Path(video))])
        wall = time.perf_counter() - started
    peak = peak_rss()
    print(json.dumps({"ok": summary.ok, "loaded": loaded, "peak": peak, "wall": wall}))


def peak_rss() -> int:
    """This process's peak resident memory in bytes: `VmHWM`, the high-water mark of its own
    address space. Not `getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries that over `exec` from
    the forked copy of the parent, so a child of a big parent would report the parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure_rss(video: Path, features: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(video), "--features", ",".join(features)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def demo_features() -> list[str]:
    """The demo's candidates (cli/demo.py) that load here without a download."""
    from cinefeat.cli.demo import choose_features, seed_weights_from_shared

    os.environ["CINEFEAT_OFFLINE"] = "1"  # as the demo runs: a missing model is left out
    seed_weights_from_shared()
    return choose_features("cpu").used


def rss_table(videos: list[tuple[str, Path]], features: list[str]) -> str:
    mb = 1 << 20
    lines = [
        f"\n### Peak RSS of one worker, features {','.join(features)}",
        "",
        "| video | peak RSS MB | after loading models MB | peak - models MB | bound (runner.py) "
        "MB | within | wall s |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for name, path in videos:
        result = measure_rss(path, features)
        if result["ok"] != 1:
            raise RuntimeError(f"RSS run on {name} failed")
        extra = result["peak"] - result["loaded"]
        lines.append(
            f"| {name} | {result['peak'] / mb:.0f} | {result['loaded'] / mb:.0f} | "
            f"{extra / mb:.0f} | {RUNNER_BOUND_BYTES / mb:.0f} | "
            f"{'yes' if extra <= RUNNER_BOUND_BYTES else 'NO'} | {result['wall']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="trailers per source video")
    parser.add_argument("--minutes", type=float, default=1.0, help="synthetic video length")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--long", action="store_true", help="also RSS on a 30-minute 1080p video")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument(
        "--rss-each", action="store_true", help="also the RSS of each demo feature alone"
    )
    parser.add_argument("--rss-seconds", type=int, default=180, help=argparse.SUPPRESS)
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--features", default="colorhist", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.features.split(","))
        return
    workdir = Path(tempfile.mkdtemp(prefix="cinefeat-throughput-"))
    try:
        run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    import av

    os.environ.setdefault("CINEFEAT_CACHE", str(workdir / "cache"))
    print(
        f"CPU: {cpu_name()}; {os.cpu_count()} logical CPUs, {len(os.sched_getaffinity(0))} "
        f"usable; python {sys.version.split()[0]}, PyAV {av.__version__}; best of "
        f"{args.repeat} rounds",
        flush=True,
    )
    datasets = []
    shared = os.environ.get("CINEFEAT_SHARED")
    media = Path(shared) / "media" if shared else None
    if media and (media / "trailer_bbb.mp4").exists():
        sources = [media / "trailer_bbb.mp4", media / "bikes.mp4"]
        datasets.append(("shared media (trailer_bbb + bikes)", sources * args.copies))
    else:
        print("(CINEFEAT_SHARED unset: the shared-media rows are skipped)")
    synthetic = make_video(workdir / "synthetic.mp4", int(args.minutes * 60), "854x480")
    datasets.append((f"synthetic {args.minutes:g} min 854x480", [synthetic] * args.copies))
    for name, paths in datasets:
        print(throughput_table(name, paths, args.repeat, workdir), flush=True)
    if args.skip_rss:
        return
    short = make_video(workdir / "short.mp4", args.rss_seconds, "1920x1080", "ultrafast")
    videos = [(f"{args.rss_seconds / 60:.3g} min 1080p", short)]
    if args.long:
        long = make_video(workdir / "30min.mp4", 1800, "1920x1080", "ultrafast")
        videos.append(("30 min 1080p", long))
    features = demo_features()
    print(rss_table(videos, features), flush=True)
    if args.rss_each:
        for feature in features:
            print(rss_table(videos, [feature]), flush=True)
    print(rss_table(videos, [*NULL_FEATURES]), flush=True)


if __name__ == "__main__":
    main()
