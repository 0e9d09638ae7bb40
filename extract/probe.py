"""Probe a media file with PyAV: duration, frame rate, size, rotation, audio streams.

Why a separate stage: probing is cheap and catches most bad inputs (empty files, text files named
`.mp4`, audio-only files) before any decoding, with a message that says what is wrong. `ProbeError`
is the one exception type for "this is not a usable trailer".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class ProbeError(Exception):
    """The file is not a decodable video (message says why)."""


@dataclass(frozen=True)
class ProbeInfo:
    """What the pipeline needs to know before decoding.

    `width`/`height` are the coded size; `rotation` (degrees, counter-clockwise, from the display
    matrix) says how frames must be turned to be upright; `display_size` applies it.
    """

    duration_s: float
    fps: float
    width: int
    height: int
    rotation: int
    n_frames: int
    audio_streams: int
    audio_rate: int | None
    audio_channels: int | None
    video_codec: str

    @property
    def has_audio(self) -> bool:
        return self.audio_streams > 0

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) after rotation."""
        if self.rotation % 180 == 90:
            return self.height, self.width
        return self.width, self.height


def probe(path: str | os.PathLike[str]) -> ProbeInfo:
    import av

    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError as error:
        raise ProbeError(f"cannot read {file}: {error.strerror or error}") from None
    if size == 0:
        raise ProbeError(f"{file} is empty (0 bytes)")
    try:
        container = av.open(str(file))
    except PermissionError:
        raise ProbeError(f"cannot read {file}: permission denied") from None
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise ProbeError(f"{file} is not a readable media file ({error})") from None
    with container:
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "no streams"
            raise ProbeError(f"{file} has no video stream ({kinds}): not a trailer")
        video = container.streams.video[0]
        fps = float(video.average_rate or video.guessed_rate or 0.0)
        duration = _duration(container, video)
        rotation = _rotation(container, video)
        audio = container.streams.audio
        width, height = video.codec_context.width, video.codec_context.height
        if not width or not height:
            raise ProbeError(f"{file}: the video stream has no frame size (corrupt header)")
        if fps <= 0:
            raise ProbeError(f"{file}: the video stream has no frame rate")
        n_frames = int(video.frames) if video.frames else round(duration * fps)
        return ProbeInfo(
            duration_s=duration,
            fps=fps,
            width=int(width),
            height=int(height),
            rotation=rotation,
            n_frames=n_frames,
            audio_streams=len(audio),
            audio_rate=int(audio[0].rate) if audio else None,
            audio_channels=int(audio[0].channels) if audio else None,
            video_codec=video.codec_context.name,
        )


def _duration(container, video) -> float:
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def _rotation(container, video) -> int:
    """Rotation of the display matrix in degrees (0, 90, 180, 270), read from the first frame."""
    import av

    try:
        for frame in container.decode(video=0):
            return round(getattr(frame, "rotation", 0) or 0) % 360
    except av.FFmpegError:
        return 0
    return 0
