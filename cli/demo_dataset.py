"""A small labelled "trailer" dataset cut from the real sample media, with labels that are facts.

Why these labels: the sample clips carry no genres, but they carry things we know for certain and
that different modalities see: `animation` vs `live-action` (pictures), `music` and `speech`
(sound; speech is mixed in from the read-speech recordings), `on-screen-text` (the title cards of
trailer_bbb.mp4, at 4-9, 11-14, 17-23, 33-36, 48-51 and 53-55 s). A head that learns them from the
extracted features shows the whole product working on real media; nothing here is a genre.

Clips are re-encoded (H.264 at 360 px, AAC) with the static ffmpeg of `imageio-ffmpeg`, one call
per clip; the dataset folder is reused when it is complete.
"""

from __future__ import annotations

import csv
import subprocess
from dataclasses import dataclass
from pathlib import Path

LABELS = ("animation", "live-action", "music", "speech", "on-screen-text")
TITLE_CARDS_S = ((4, 9), (11, 14), (17, 23), (33, 36), (48, 51), (53, 55))
TEXT_MIN_OVERLAP_S = 1.0  # a card on screen at least this long counts as on-screen text


@dataclass(frozen=True)
class DemoClip:
    id: str
    video: str  # sample media name
    start_s: float
    end_s: float
    speech: str | None = None  # sample wav mixed into the soundtrack
    speech_from_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def labels(self) -> list[str]:
        out = ["animation", "music"] if self.video == "trailer_bbb.mp4" else ["live-action"]
        if self.speech:
            out.append("speech")
        if self.video == "trailer_bbb.mp4":
            on_screen = sum(
                max(0.0, min(self.end_s, b) - max(self.start_s, a)) for a, b in TITLE_CARDS_S
            )
            if on_screen >= TEXT_MIN_OVERLAP_S:
                out.append("on-screen-text")
        return [label for label in LABELS if label in out]


def demo_clips() -> list[DemoClip]:
    """24 clips: 16 animated (5 with speech over the music), 8 live-action (4 with speech)."""
    clips = [DemoClip(f"bbb/{i:02d}", "trailer_bbb.mp4", 5.0 * i, 5.0 * i + 5.0) for i in range(11)]
    clips += [
        DemoClip(
            f"bbb-voice/{i}",
            "trailer_bbb.mp4",
            2.5 + 10 * i,
            7.5 + 10 * i,
            "two_cities.wav",
            5.0 * i,
        )
        for i in range(5)
    ]
    clips += [DemoClip(f"bikes/{i}", "bikes.mp4", 2.5 * i, 2.5 * i + 2.5) for i in range(4)]
    clips += [
        DemoClip(
            f"bikes-voice/{i}",
            "bikes.mp4",
            1.25 + 2.5 * i,
            3.75 + 2.5 * i,
            "two_cities.wav",
            25.0 + 5.0 * i,
        )
        for i in range(3)
    ]
    clips.append(DemoClip("bikes-voice/3", "bikes.mp4", 0.0, 10.0, "beckett.wav", 0.0))
    return clips


def build_dataset(media: dict[str, Path], folder: Path) -> tuple[list[DemoClip], Path]:
    """Write every clip under `folder` and `labels.csv`; returns (clips, labels file)."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    clips = demo_clips()
    folder.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        target = folder / f"{clip.id}.mp4"
        if target.is_file() and target.stat().st_size > 0:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.stem}.partial.mp4")
        subprocess.run(_command(ffmpeg, clip, media, partial), check=True, capture_output=True)
        partial.replace(target)
    labels = folder / "labels.csv"
    with open(labels, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "genres"])
        for clip in clips:
            writer.writerow([clip.id, "|".join(clip.labels())])
    return clips, labels


def _command(ffmpeg: str, clip: DemoClip, media: dict[str, Path], out: Path) -> list[str]:
    video = [
        "-ss",
        f"{clip.start_s:.3f}",
        "-t",
        f"{clip.duration_s:.3f}",
        "-i",
        str(media[clip.video]),
    ]
    encode = [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "26",
        "-pix_fmt",
        "yuv420p",
        "-vf",
        "scale=-2:360",
    ]
    audio = ["-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "44100"]
    base = [ffmpeg, "-y", "-v", "error", *video]
    if clip.speech is None:
        return [*base, *encode, *audio, "-movflags", "+faststart", str(out)]
    speech = [
        "-ss",
        f"{clip.speech_from_s:.3f}",
        "-t",
        f"{clip.duration_s:.3f}",
        "-i",
        str(media[clip.speech]),
    ]
    if clip.video == "trailer_bbb.mp4":  # speech over the film's music
        mix = (
            "[0:a]volume=0.6[m];[1:a]volume=1.6[s];"
            "[m][s]amix=inputs=2:duration=first:normalize=0[a]"
        )
        maps = ["-filter_complex", mix, "-map", "0:v", "-map", "[a]"]
    else:  # the footage has no sound of its own
        maps = ["-map", "0:v", "-map", "1:a", "-shortest"]
    return [*base, *speech, *maps, *encode, *audio, "-movflags", "+faststart", str(out)]
