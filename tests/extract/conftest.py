"""Fixtures of the extraction tests: synthetic media made with the imageio-ffmpeg binary, the
in-memory store, and a random-init CLIP in the weights cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args]
    subprocess.run(command, check=True)


def make_cuts_video(
    path: Path,
    colours: list[str],
    seconds: float = 1.0,
    fps: int = 25,
    size: str = "160x90",
    audio: bool = True,
) -> Path:
    """Solid colour segments of `seconds` each: hard cuts at k*seconds."""
    inputs: list[str] = []
    for colour in colours:
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s={size}:r={fps}:d={seconds}"]
    n = len(colours)
    graph = "".join(f"[{i}:v]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    extra: list[str] = []
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:d={seconds * n}"]
        extra = ["-map", f"{n}:a", "-c:a", "aac"]
    ffmpeg(
        *inputs,
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        *extra,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "50",
        str(path),
    )
    return path


@pytest.fixture(scope="session")
def run_ffmpeg():
    """The `ffmpeg(*args)` helper (tests import fixtures, not conftest, in importlib mode)."""
    return ffmpeg


@pytest.fixture(scope="session")
def cuts_video_maker():
    return make_cuts_video


@pytest.fixture(scope="session")
def cuts_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s, 25 fps, cuts at 1, 2, 3 s (red, green, blue, white), 440 Hz tone."""
    folder = tmp_path_factory.mktemp("media")
    return make_cuts_video(folder / "cuts.mp4", ["red", "green", "blue", "white"])


@pytest.fixture
def memory_store():
    """The production in-memory store (same writer contract and checks as the Zarr store)."""
    from cinefeat.store.memory import MemoryStore

    return MemoryStore()


@pytest.fixture(scope="session")
def record_factory():
    from cinefeat.store import TrailerRecord

    return TrailerRecord


@pytest.fixture(scope="session")
def random_clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised ViT-B-32 saved exactly as the published open_clip safetensors."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=True)
    path = tmp_path_factory.mktemp("clip") / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


@pytest.fixture
def random_clip(tmp_cache: Path, random_clip_file: Path) -> Path:
    """That file in this test's offline cache, where `cinefeat models download` would put it
    (a hard link: tests that alter it must replace it, not write into it)."""
    import os

    from cinefeat.extract import pretrained

    folder = pretrained.entry_dir("clip-vit-b-32-openai")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "open_clip_model.safetensors"
    os.link(random_clip_file, path)
    return path


def colour_frame(rgb: tuple[int, int, int], size: tuple[int, int] = (90, 160)) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (*size, 3)).copy()
