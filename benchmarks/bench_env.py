"""What the benchmark scripts share: the machine they ran on and the synthetic video they time.

Imported by path (benchmarks/ is not a package: `python benchmarks/x.py` puts this folder first
on sys.path). The CPU is printed with every table because speeds, and whether the bfloat16
rows run natively, depend on it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def make_video(path: Path, seconds: int, size: str = "854x480", preset: str = "veryfast") -> Path:
    """24 fps moving test pattern with a hard cut (hue jump) every 4 s, plus a tone."""
    subprocess.run(
        [
            ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "lavfi", "-i", f"testsrc2=s={size}:r=24:d={seconds},hue=H=floor(t/4)*1.3",
            "-f", "lavfi", "-i", f"sine=frequency=330:d={seconds}",
            "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path
