"""Seconds of compute per minute of trailer for each embedding extractor, batch-size sweep.

Why a script (not a timed test): speed depends on the machine and its load; the ratios between
extractors and batch sizes, measured side by side in one run, are what we compare. It prints a
Markdown table (paste it into docs/bench-extractors.md).

Weights: the real Choi 2016 files when `$CINEFEAT_SHARED` is set; every other model runs with
random weights of the published architecture and size (offline machines cannot download them),
which costs the same arithmetic. The cache is a temporary directory; nothing is downloaded.

Per-minute load of each extractor at its default sampling: audio windows per minute from window
and hop (audiotag 20, vggish 62.5, ast 11.7, musicnet 2.06); I3D 60 clips of 24 frames (a minute
of 24 fps video cut into full-length shot clips); ViT 30 frames (scene-middle on a trailer with
2 s shots). Each point times `--items` items (at least one batch) after one warm-up batch and
scales to a minute.

    OMP_NUM_THREADS=2 CINEFEAT_SHARED=../shared python benchmarks/extractor_speed.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_env import cpu_name

from cinefeat.extract import pretrained
from cinefeat.extract.base import EXTRACTORS, AudioRequest, BatchExtractor
from cinefeat.extract.extractors import (  # noqa: F401
    ast,
    audiotag,
    i3d,
    i3d_flow,
    musicnet,
    optical_flow,
    vggish,
    vit,
)

ITEMS_PER_MINUTE = {"vit": 30.0, "i3d": 60.0, "i3d-flow": 60.0, "image": 30.0}
TILING_CLIPS = {"video", "r2plus1d", "s3d", "swin3d", "flow"}  # shot clips tile every frame
FRAMES_PER_MINUTE = 1440.0  # 24 fps: the `video` extractor's shot clips tile them


def _install_torchvision(model: str) -> dict:
    """Random weights of a torchvision backbone in its published layout (a state dict of the
    full classifier), registered as `random-<model>`."""
    import importlib

    from cinefeat.extract.backbones import BACKBONES, list_backbones

    list_backbones()
    backbone = BACKBONES[model]
    module = "torchvision.models.video" if backbone.kind == "clips" else "torchvision.models"
    full = getattr(importlib.import_module(module), model)(weights=None)
    path = pretrained.cache_dir() / f"random-{model}.pth"
    torch.save(full.state_dict(), path)
    pretrained.add_local(f"random-{model}", path, like=backbone.weights)
    return {"model": model, "weights": f"random-{model}"}


def _install_raft(model: str) -> str:
    """Random RAFT weights in torchvision's layout, registered as `random-<model>`."""
    from cinefeat.extract.flow import build_raft

    path = pretrained.cache_dir() / f"random-{model}.pth"
    torch.save(build_raft(model).state_dict(), path)
    pretrained.add_local(f"random-{model}", path, like=f"torchvision-{model}")
    return f"random-{model}"


def _install_i3d_flow() -> dict:
    """The flow stream's I3D (2 input channels, the port's layout) and RAFT-small, random."""
    from cinefeat.extract.nets.i3d import InceptionI3d

    path = pretrained.cache_dir() / "random-flow_imagenet.pt"
    torch.save(InceptionI3d(in_channels=2).state_dict(), path)
    pretrained.add_local("random-i3d-flow", path, like="i3d-flow-imagenet")
    return {"flow_weights": "random-i3d-flow", "optical_flow_weights": _install_raft("raft_small")}


def _install_random_weights(name: str) -> dict:
    """Random weights of the published architecture and file format, registered as a local
    weights entry `random-<name>` (so no published checksum applies); returns the options."""
    folder = pretrained.cache_dir() / f"random-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    main = {
        "panns-cnn14": "Cnn14_mAP=0.431.pth",
        "vggish": vggish.MODEL_FILE,
        "i3d-rgb-imagenet": "rgb_imagenet.pt",
    }.get(name, "model.safetensors")
    if name == "panns-cnn14":
        from cinefeat.extract.nets.cnn14 import Cnn14

        torch.save({"model": Cnn14().state_dict()}, folder / "Cnn14_mAP=0.431.pth")
    elif name == "vggish":
        from cinefeat.extract.nets.vggish import VGGish

        torch.save(VGGish().state_dict(), folder / vggish.MODEL_FILE)
    elif name == "i3d-rgb-imagenet":
        from cinefeat.extract.nets.i3d import InceptionI3d

        torch.save(InceptionI3d().state_dict(), folder / "rgb_imagenet.pt")
    elif name == "ast-audioset":
        from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

        model = ASTForAudioClassification(ASTConfig(num_labels=527))  # base size, as published
        model.save_pretrained(folder, safe_serialization=True)
        ASTFeatureExtractor().save_pretrained(folder)
    elif name == "vit-base-patch16-224":
        from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

        ViTForImageClassification(ViTConfig(num_labels=1000)).save_pretrained(
            folder, safe_serialization=True
        )
        ViTImageProcessor().save_pretrained(folder)
    pretrained.add_local(f"random-{name}", folder / main, like=name)
    return {"weights": f"random-{name}"}


def _choi_weights(entry: pretrained.PretrainedWeights) -> dict:
    shared = os.environ.get("CINEFEAT_SHARED")
    source = Path(shared or "/nonexistent") / "weights/choi2016-music-tagger"
    source = source / entry.main_file.filename
    target = pretrained.entry_dir(entry.name) / entry.main_file.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.exists():
        shutil.copyfile(source, target)
        return {}
    raise SystemExit("set CINEFEAT_SHARED to benchmark the Choi taggers (their real weights)")


def _items(extractor: BatchExtractor, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    request = extractor.request()
    if isinstance(request, AudioRequest):
        length = round(request.window_s * request.sample_rate)
        return [rng.normal(0, 0.1, length).astype(np.float32) for _ in range(count)]
    size = request.short_side or 224
    if extractor.kind == "clips":
        frames = request.frames_per_clip  # type: ignore[union-attr]
        return [
            rng.integers(0, 255, (frames, size, size * 16 // 9, 3), np.uint8) for _ in range(count)
        ]
    return [rng.integers(0, 255, (size, size * 16 // 9, 3), np.uint8) for _ in range(count)]


def items_per_minute(extractor: BatchExtractor) -> float:
    request = extractor.request()
    if isinstance(request, AudioRequest):
        return 60.0 / request.hop_s
    if extractor.name in TILING_CLIPS:
        return FRAMES_PER_MINUTE / request.frames_per_clip  # type: ignore[union-attr]
    return ITEMS_PER_MINUTE[extractor.name]


def time_point(extractor: BatchExtractor, batch: int, items: int, seed: int = 0) -> float:
    """Seconds per item at one batch size (one warm-up batch first)."""
    rng = np.random.default_rng(seed)
    pool = _items(extractor, batch, rng)
    extractor.extract_batch(pool)  # warm-up
    batches = max(1, -(-items // batch))
    start = time.perf_counter()
    for _ in range(batches):
        extractor.extract_batch(pool)
    return (time.perf_counter() - start) / (batches * batch)


CRNN = "choi2016-music-tagger-crnn"
CASES: list[tuple[str, Callable[[], dict]]] = [
    ("musicnet", lambda: _choi_weights(musicnet.CNN_WEIGHTS)),
    ("musicnet-crnn", lambda: _choi_weights(pretrained.get_weights(CRNN))),
    ("audiotag", lambda: _install_random_weights("panns-cnn14")),
    ("vggish", lambda: _install_random_weights("vggish")),
    ("ast", lambda: _install_random_weights("ast-audioset")),
    ("vit", lambda: _install_random_weights("vit-base-patch16-224")),
    ("i3d", lambda: _install_random_weights("i3d-rgb-imagenet")),
    ("image:resnet50", lambda: _install_torchvision("resnet50")),
    ("image:shufflenet_v2_x1_0", lambda: _install_torchvision("shufflenet_v2_x1_0")),
    ("image:swin_t", lambda: _install_torchvision("swin_t")),
    ("video:r2plus1d_18", lambda: _install_torchvision("r2plus1d_18")),
    ("video:s3d", lambda: _install_torchvision("s3d")),
    ("video:swin3d_t", lambda: _install_torchvision("swin3d_t")),
    # the named features r2plus1d, s3d and swin3d cost what the video rows above cost
    ("flow:raft_small", lambda: {"model": "raft_small", "weights": _install_raft("raft_small")}),
    ("flow:raft_large", lambda: {"model": "raft_large", "weights": _install_raft("raft_large")}),
    ("i3d-flow", _install_i3d_flow),
]


def main() -> None:
    from cinefeat.extract.nets.runtime import half_dtype

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="1,4,16")
    parser.add_argument("--items", type=int, default=16, help="items timed per point")
    parser.add_argument("--only", default="", help="comma-separated extractor names")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--precisions",
        default="fp32,half",
        help="fp32 and/or half (fp16 on CUDA, bf16 on a CPU with native bf16; skipped without)",
    )
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    only = {n for n in args.only.split(",") if n}
    halves = [p.strip() == "half" for p in args.precisions.split(",")]
    half = half_dtype(args.device)
    if half is None and any(halves):
        print(f"({args.device} has no native half precision: only fp32 is measured)")
        halves = [False]
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CINEFEAT_CACHE"] = cache
        os.environ["CINEFEAT_OFFLINE"] = "1"
        print(f"{cpu_name()}; device {args.device}, torch threads {torch.get_num_threads()}\n")
        header = " | ".join(f"batch {b}" for b in batch_sizes)
        print(f"| extractor | weights | precision | items/min | {header} |")
        print("|---|---|---|---|" + "---|" * len(batch_sizes))
        for name, install in CASES:
            if only and name not in only and name.split(":")[0] not in only:
                continue
            options = install()
            note = "random init" if options else "real"
            for fp16 in halves:  # side by side: the same weights in each precision
                extractor = EXTRACTORS.create(name.split(":")[0], **options)
                extractor.load(args.device, fp16=fp16)
                label = str(half).removeprefix("torch.") if extractor.fp16 else "fp32"
                per_minute = items_per_minute(extractor)
                cells = []
                for batch in batch_sizes:
                    seconds = time_point(extractor, batch, args.items) * per_minute
                    cells.append(f"{seconds:.1f} s")
                print(
                    f"| {name} | {note} | {label} | {per_minute:.1f} | " + " | ".join(cells) + " |",
                    flush=True,
                )
    print("\ncells: seconds of compute per minute of trailer (lower is better)")


if __name__ == "__main__":
    main()
