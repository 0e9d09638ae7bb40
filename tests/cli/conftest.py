"""A labelled colour dataset extracted into a real store, and heads trained on it.

Solid-colour videos: hue says `red` or `blue`, brightness says `bright` (value >= 192) or not, so
the weight-free `colorhist` feature carries every label and a head must learn them. The store,
the split and the heads are made with the same commands a user types.
"""

from __future__ import annotations

import colorsys
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

HUES = {"red": 0.0, "blue": 240.0}
BRIGHT_VALUES = (255, 240, 225, 200)
DARK_VALUES = (120, 100, 80, 60)


def rgb_hex(hue_degrees: float, value: int) -> str:
    r, g, b = colorsys.hsv_to_rgb(hue_degrees / 360.0, 1.0, value / 255.0)
    return f"0x{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def colour_video(path: Path, colour: str, seconds: float = 1.0, audio: bool = False) -> Path:
    import imageio_ffmpeg

    inputs = ["-f", "lavfi", "-i", f"color=c={colour}:s=64x36:r=12:d={seconds}"]
    tail = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=16000:d={seconds}"]
        tail += ["-c:a", "aac", "-shortest"]
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *inputs, *tail, str(path)]
    subprocess.run(command, check=True)
    return path


def cinefeat(*args: object) -> str:
    from cinefeat.cli.main import main

    result = CliRunner().invoke(main, ["--quiet", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def colour_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("colours")
    videos = root / "videos"
    rows = ["id,genres"]
    for name, hue in HUES.items():
        for value in BRIGHT_VALUES + DARK_VALUES:
            clip = f"{name}-{value}"
            colour_video(videos / f"{clip}.mp4", rgb_hex(hue, value))
            rows.append(f"{clip},{name}{'|bright' if value >= 192 else ''}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    store = root / "colours.zarr"
    cinefeat("extract", videos, "--store", store, "--features", "colorhist",
             "--labels", root / "labels.csv")  # fmt: skip
    cinefeat("split", store, "--kind", "stratified", "--seeds", "0")
    unseen = {
        "bright-red": colour_video(root / "unseen" / "bright red.mp4", rgb_hex(0.0, 210)),
        "dark-blue": colour_video(root / "unseen" / "dark-blue.mp4", rgb_hex(240.0, 90)),
    }
    return {"root": root, "store": store, "videos": videos, **unseen}


def train(colour_store: dict[str, Path], head: str, out: Path, *extra: str) -> Path:
    cinefeat("train", colour_store["store"], "--arch", head, "--features", "colorhist",
             "--split", "stratified-s0", "--out", out, "--lr", "1e-2", "--epochs", "60",
             "--patience", "60", "--batch-size", "4", "--pos-weight", "1", "--device", "cpu",
             *extra)  # fmt: skip
    return out


@pytest.fixture(scope="session")
def mlp_head(colour_store: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(colour_store, "mlp", tmp_path_factory.mktemp("heads") / "mlp")


@pytest.fixture(scope="session")
def transformer_head(
    colour_store: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("heads") / "multi-transformer"
    return train(colour_store, "multi-transformer", out, "--set", "d_model=16", "--set",
                 "heads=2", "--set", "dropout=0.0", "--epochs", "20")  # fmt: skip


def predict_json(*args: object) -> tuple[int, dict]:
    from cinefeat.cli.main import main

    result = CliRunner().invoke(main, ["--quiet", "predict", *map(str, args), "--json"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    text = result.stdout
    return result.exit_code, (json.loads(text) if text.strip().startswith("{") else {})


@pytest.fixture(scope="session")
def helpers():
    """The helper functions of this conftest (importlib mode: tests cannot import conftest)."""
    return {
        "cinefeat": cinefeat,
        "predict_json": predict_json,
        "colour_video": colour_video,
        "rgb_hex": rgb_hex,
        "train": train,
    }
