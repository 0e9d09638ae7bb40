"""Extraction speed: decode once vs the naive way, on a real clip and a synthetic 10-minute video.

Prints one table per video. Everything is measured side by side in one run on the same machine:

- decode floor: `ffmpeg -i X -f null -` (every frame decoded, nothing else);
- cinefeat: `LocalRunner` with CLIP under three samplers (scene-middle, every-k k=12, shot-clips
  f=24), i.e. three frame features, into a real store; its stage times (scene detection, sampling,
  models) and its total wall time;
- naive: the same three features the way per-feature scripts do it: each feature decodes the file
  itself (PySceneDetect's `detect()` for scenes, an ffmpeg pipe for every-k and shot-clips), and the
  scene-middle keyframes are pulled with one `ffmpeg -ss` call per frame (as the Sulun et al. code
  does); the CLIP time is the same model on the same number of frames.

Targets (issue 3): total <= 1.3 x (decode floor + model time); naive / total >= 2.
"Model time" in the 1.3 x bound is CLIP alone on the same number of frames, run with nothing
beside it (the naive way's CLIP time: it embeds after its decoding is over); the CLIP time inside
the pipeline is also printed, but it is inflated whenever decoding shares the CPU with the model.

Two more rows say what the 2 x target depends on: the pipeline with the same three samplers and a
model that costs nothing (`null`: its decode + scenes + sampling + write), and from it the
speed-up once the model time goes to zero (a GPU): naive time without its CLIP / null pipeline
time, a lower bound for a fast GPU. On a CPU the speed-up can never exceed naive total / model
time (the model runs in both), printed as the CPU bound.

Each video is measured in `--repeat` interleaved rounds and every measure is the best of its
rounds (the machine may be shared: the minimum is the least disturbed, as `timeit` reports). CLIP
runs in fp32 and, with `--precisions fp32,half` (the default), also in half precision: fp16 on
CUDA, bfloat16 on a CPU with native bf16 (AMX / AVX512-BF16), each with its own table.

Real CLIP weights are not downloadable here: a randomly initialised ViT-B-32 in the published
open_clip safetensors format is used; its cost is exactly the real model's.

Usage: CINEFEAT_SHARED=../shared python benchmarks/extract_bench.py [--minutes 10] [--device cpu]
       [--repeat 2] [--precisions fp32,half]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_env import ffmpeg_exe, make_video


def make_synthetic(path: Path, minutes: float) -> Path:
    """854x480, 24 fps, moving test pattern with a hard cut (hue jump) every 4 s, plus a tone."""
    return make_video(path, int(minutes * 60), "854x480")


def decode_floor(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"], check=True)
    return time.perf_counter() - started


def clip_extractors(device: str, half: bool = False) -> dict:
    from cinefeat.extract.extractors.clip import ClipExtractor

    extractors = {
        "clip_scene": ClipExtractor(sampler="scene-middle"),
        "clip_every12": ClipExtractor(sampler="every-k"),
        "clip_shots": ClipExtractor(sampler="shot-clips"),
    }
    for extractor in extractors.values():
        extractor.load(device=device, fp16=half)
    return extractors


def null_extractors() -> dict:
    """The same three frame requests as `clip_extractors`, with a model that costs nothing."""
    from cinefeat.extract.base import BatchExtractor, ExtractorConfig, FrameRequest

    class Null(BatchExtractor):
        name = "null"
        kind = "frames"
        config_class = ExtractorConfig

        def __init__(self, sampler: str) -> None:
            super().__init__()
            self.sampler = sampler

        @property
        def dim(self) -> int:
            return 8

        def request(self) -> FrameRequest:
            return FrameRequest(sampler=self.sampler, short_side=224)

        def load(self, device: str = "cpu", fp16: bool = False) -> None:
            pass

        def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
            return np.zeros((len(items), 8), np.float32)

    return {
        "null_scene": Null("scene-middle"),
        "null_every12": Null("every-k"),
        "null_shots": Null("shot-clips"),
    }


def run_cinefeat(
    path: Path, extractors: dict, device: str, workdir: Path, label: str = "clip"
) -> dict:
    from cinefeat.extract.runner import LocalRunner, RunOptions
    from cinefeat.extract.scan import Trailer
    from cinefeat.store import FeatureStore

    store = FeatureStore.create(Path(tempfile.mkdtemp(dir=workdir)) / f"{label}-{path.stem}")
    runner = LocalRunner(store, extractors, RunOptions(device=device, batch_size=32))
    runner.loaded = True
    started = time.perf_counter()
    summary = runner.run([Trailer(path.stem, path)])
    total = time.perf_counter() - started
    if summary.ok != 1:
        raise RuntimeError(f"cinefeat run failed: {summary.failures}")
    rows = sum(len(store.get(path.stem, name)) for name in extractors)
    return {"total": total, "rows": rows, **summary.stage_s}


def run_naive(path: Path, extractor, fps: float, size: tuple[int, int]) -> dict:
    """The three features, each decoding the file itself; one ffmpeg call per keyframe."""
    from scenedetect import ContentDetector, detect

    from cinefeat.extract.samplers import colour_histogram

    out = {"scenes": 0.0, "decode": 0.0, "models": 0.0, "rows": 0}
    started = time.perf_counter()

    def embed(frames: list[np.ndarray]) -> None:
        tick = time.perf_counter()
        for i in range(0, len(frames), 32):
            extractor.extract_batch(frames[i : i + 32])
        out["models"] += time.perf_counter() - tick
        out["rows"] += len(frames)

    # feature 1: scene-middle, Sulun et al. style
    tick = time.perf_counter()
    scenes = detect(str(path), ContentDetector())
    out["scenes"] += time.perf_counter() - tick
    tick = time.perf_counter()
    keyframes = []
    for start, end in scenes or []:
        middle = (start.seconds + end.seconds) / 2
        keyframes.append(one_frame(path, middle, size))
    out["decode"] += time.perf_counter() - tick
    embed(keyframes)
    # feature 2: every 12th frame from a full decode of its own
    tick = time.perf_counter()
    every = [f for i, f in enumerate(all_frames(path, size)) if i % 12 == 0]
    out["decode"] += time.perf_counter() - tick
    embed(every)
    # feature 3: shot clips of 24 frames, representative by histogram, own scenes + own decode
    tick = time.perf_counter()
    shots = detect(str(path), ContentDetector())
    out["scenes"] += time.perf_counter() - tick
    tick = time.perf_counter()
    bounds = [round(s.seconds * fps) for s, _ in shots] if shots else [0]
    reps, clip, current = [], [], 0
    for i, frame in enumerate(all_frames(path, size)):
        cut = i in bounds and i > 0
        if cut or len(clip) == 24:
            reps.append(representative(clip, colour_histogram))
            clip = []
        clip.append(frame)
        current = i
    if clip:
        reps.append(representative(clip, colour_histogram))
    del current
    out["decode"] += time.perf_counter() - tick
    embed(reps)
    out["total"] = time.perf_counter() - started
    return out


def representative(clip: list[np.ndarray], histogram) -> np.ndarray:
    hists = np.stack([histogram(f[::4, ::4]) for f in clip])
    return clip[int(np.argmin(np.abs(hists - hists.mean(0)).sum(1)))]


def one_frame(path: Path, seconds: float, size: tuple[int, int]) -> np.ndarray:
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-ss",
            f"{seconds:.3f}",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{size[0]}x{size[1]}",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(size[1], size[0], 3)


def all_frames(path: Path, size: tuple[int, int]):
    process = subprocess.Popen(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{size[0]}x{size[1]}",
            "-",
        ],
        stdout=subprocess.PIPE,
    )
    frame_bytes = size[0] * size[1] * 3
    assert process.stdout is not None
    while chunk := process.stdout.read(frame_bytes):
        if len(chunk) < frame_bytes:
            break
        yield np.frombuffer(chunk, np.uint8).reshape(size[1], size[0], 3)
    process.wait()


def table(name: str, info, floor: float, ours: dict, naive: dict, null: dict) -> str:
    model = naive["models"]  # CLIP alone on the same number of frames, nothing beside it
    budget = 1.3 * (floor + model)
    naive_rest = naive["total"] - naive["models"]
    lines = [
        f"\n### {name}: {info.duration_s:.1f} s, {info.width}x{info.height}, {info.fps:g} fps "
        f"({ours['rows']} CLIP rows over 3 samplers)",
        "",
        "| measure | seconds | note |",
        "|---|---:|---|",
        f"| decode floor (`ffmpeg -i X -f null -`) | {floor:.2f} | all frames, ffmpeg threads |",
        f"| cinefeat: decode + scaling | {ours['decode']:.2f} | one PyAV pass (+ pass 2 if any) |",
        f"| cinefeat: scene detection | {ours['scenes']:.2f} | PySceneDetect content, 256 px |",
        f"| cinefeat: sampling | {ours['sampling']:.2f} | three samplers, frames at 224 px |",
        f"| cinefeat: CLIP inside the pipeline | {ours['models']:.2f} | random-init ViT-B-32, "
        f"real cost; shares the CPU with decoding |",
        f"| cinefeat: write | {ours['write']:.2f} | zarr store |",
        f"| **cinefeat total (wall)** | **{ours['total']:.2f}** | decode overlaps CLIP |",
        f"| model time: CLIP alone, same {naive['rows']} frames | {model:.2f} | the naive "
        f"way's CLIP, run after its decoding |",
        f"| target 1.3 x (floor + model) | {budget:.2f} | "
        f"{'met' if ours['total'] <= budget else 'NOT met'} (ratio "
        f"{ours['total'] / (floor + model):.2f}) |",
        f"| naive: scene detection x2 | {naive['scenes']:.2f} | each feature detects itself |",
        f"| naive: decoding | {naive['decode']:.2f} | 2 full decodes + 1 ffmpeg per keyframe |",
        f"| naive: CLIP | {naive['models']:.2f} | same frames count ({naive['rows']}) |",
        f"| **naive total** | **{naive['total']:.2f}** | |",
        f"| speed-up naive / cinefeat | {naive['total'] / ours['total']:.2f} x | target >= 2 x |",
        f"| CPU bound: naive total / model time | {naive['total'] / model:.2f} x | no pipeline "
        f"can beat this while the model runs on this CPU |",
        f"| cinefeat with a null model (wall) | {null['total']:.2f} | same 3 samplers: decode + "
        f"scenes + sampling + write |",
        f"| speed-up as model time -> 0 (GPU) | {naive_rest / null['total']:.2f} x | naive "
        f"without CLIP / null pipeline: lower bound on a fast GPU |",
    ]
    return "\n".join(lines)


def best(runs: list[dict]) -> dict:
    """The run with the smallest total: the machine is shared, so the minimum of a few rounds
    (as `timeit` reports) is the measure least disturbed by other jobs."""
    return min(runs, key=lambda run: run["total"])


def precision_label(device: str, half: bool) -> str:
    if not half:
        return "fp32"
    return "fp16" if device.startswith("cuda") else "bf16"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds per video; each measure: best of them"
    )
    parser.add_argument(
        "--precisions",
        default="fp32,half",
        help="fp32 and/or half (fp16 on CUDA, bf16 on a CPU with native bf16; skipped without)",
    )
    args = parser.parse_args()

    import torch
    from safetensors.torch import save_file

    from cinefeat.extract import pretrained
    from cinefeat.extract.nets.runtime import half_dtype
    from cinefeat.extract.probe import probe

    workdir = Path(tempfile.mkdtemp(prefix="cinefeat-bench-"))
    os.environ.setdefault("CINEFEAT_CACHE", str(workdir / "cache"))
    folder = pretrained.entry_dir("clip-vit-b-32-openai")
    if not (folder / "open_clip_model.safetensors").exists():
        import open_clip

        torch.manual_seed(0)
        model = open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=True)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(folder / "open_clip_model.safetensors"))
    variants = {}
    for precision in args.precisions.split(","):
        half = precision.strip() == "half"
        if half and half_dtype(args.device) is None:
            print(f"({args.device} has no native half precision: only fp32 is measured)")
            continue
        variants[precision_label(args.device, half)] = clip_extractors(args.device, half)

    videos = []
    shared = os.environ.get("CINEFEAT_SHARED")
    if shared and (Path(shared) / "media" / "trailer_bbb.mp4").exists():
        videos.append(("trailer_bbb.mp4 (real)", Path(shared) / "media" / "trailer_bbb.mp4"))
    if not args.skip_synthetic:
        synthetic = make_synthetic(workdir / "synthetic.mp4", args.minutes)
        videos.append((f"synthetic {args.minutes:g} min", synthetic))
    print(
        f"python {sys.version.split()[0]}, torch {torch.__version__}, threads "
        f"{torch.get_num_threads()}, device {args.device}, cpus {os.cpu_count()}, "
        f"best of {args.repeat} rounds"
    )
    for name, path in videos:
        info = probe(path)
        width = round(info.width * 224 / info.height / 2) * 2
        floors, nulls = [], []
        ours: dict[str, list[dict]] = {label: [] for label in variants}
        naive: dict[str, list[dict]] = {label: [] for label in variants}
        for _ in range(args.repeat):  # interleaved, so a slow spell hits every measure alike
            floors.append({"total": decode_floor(path)})
            nulls.append(run_cinefeat(path, null_extractors(), args.device, workdir, "null"))
            for label, extractors in variants.items():
                ours[label].append(run_cinefeat(path, extractors, args.device, workdir))
                naive[label].append(
                    run_naive(path, extractors["clip_scene"], info.fps, (width, 224))
                )
        for label in variants:
            print(
                table(
                    f"{name}, CLIP in {label}",
                    info,
                    best(floors)["total"],
                    best(ours[label]),
                    best(naive[label]),
                    best(nulls),
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
