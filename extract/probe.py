"""Probe a media file with PyAV: duration, frame rate, size, rotation, audio streams.

Why a separate stage: probing is cheap and catches most bad inputs (empty files, text files named
`.mp4`, audio-only files) before any decoding, with a message that says what is wrong. `ProbeError`
is the one exception type for "this is not a usable trailer".

It also reads how many bytes the container itself says the file has (`container_bytes`): a file
shorter than that was cut (an interrupted download), which is the one case where "re-download it"
is the right advice. A wrong *duration* in the header is not evidence of that: durations are
rewritten by remuxers and are often wrong, while a RIFF chunk, an MP4 box or a Matroska segment
that runs past the end of the file only happens when bytes are missing.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cinefeat.store.errors import CinefeatError


class ProbeError(CinefeatError):
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
    file_bytes: int = 0
    container_bytes: int | None = None  # what the container's own headers add up to; None: unknown

    @property
    def truncated(self) -> bool:
        """The file is shorter than its container says (bytes are missing at the end)."""
        return self.container_bytes is not None and self.file_bytes < self.container_bytes

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
        declared = container_bytes(file)
        cut = (
            f"; it is truncated ({size:,} of the {declared:,} bytes its container declares): "
            f"re-download it"
            if declared is not None and size < declared
            else ""
        )
        raise ProbeError(f"{file} is not a readable media file ({error}){cut}") from None
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
            file_bytes=size,
            container_bytes=container_bytes(file),
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


# -- the size a container declares ----------------------------------------------------------------
# Top-level layouts, as FFmpeg's demuxers read them: RIFF chunks (libavformat/avidec.c: "RIFF", a
# little-endian u32 size, then "AVI " / "AVIX"; OpenDML files chain several RIFF chunks), ISO BMFF
# boxes (libavformat/mov.c: big-endian u32 size, 4-byte type, size 1 = a u64 size follows, size 0 =
# to the end of the file) and EBML elements (libavformat/matroskadec.c, RFC 8794: variable-length
# ID and size, a size of all ones = unknown, as live streams write it).
MAX_TOP_LEVEL = 100_000  # boxes/chunks walked at most (fragmented MP4: two per fragment)


def container_bytes(path: str | os.PathLike[str]) -> int | None:
    """The file size the container's top-level structure adds up to, or None if unknown (another
    format, an unknown-size Matroska segment, unreadable headers)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if head[:4] == b"RIFF":
                return _walk(handle, _riff_header)
            if head[:4] == b"\x1a\x45\xdf\xa3":
                return _ebml_end(handle)
            if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                return _walk(handle, _box_header)
    except OSError:
        return None
    return None


def _walk(handle: BinaryIO, header: Callable[[BinaryIO, int], int | None]) -> int | None:
    """End of the last top-level unit, walking from offset 0. `header` gives a unit's length, 0
    where no unit starts (trailing garbage: the structure ends there) or None (not this format)."""
    size = os.fstat(handle.fileno()).st_size
    position = 0
    for _ in range(MAX_TOP_LEVEL):
        if position >= size:
            return position
        handle.seek(position)
        length = header(handle, size - position)
        if length is None:
            return None
        if length == 0:
            return position
        position += length
        if position > size:
            return position
    return None


def _riff_header(handle: BinaryIO, left: int) -> int | None:
    data = handle.read(8)
    if data[:4] != b"RIFF"[: len(data)]:
        return 0
    if len(data) < 8:
        return 8  # a partial chunk header: the chunk runs past the end
    (length,) = struct.unpack("<I", data[4:])
    return 8 + length + (length & 1)  # chunks are padded to an even size


def _box_header(handle: BinaryIO, left: int) -> int | None:
    data = handle.read(8)
    if len(data) < 8:
        return 8
    if not all(32 <= c < 127 for c in data[4:]):  # box types are printable four-character codes
        return 0
    (length,) = struct.unpack(">I", data[:4])
    if length == 1:
        large = handle.read(8)
        if len(large) < 8:
            return 16
        (length,) = struct.unpack(">Q", large)
    elif length == 0:
        return left  # "to the end of the file"
    return length if length >= 8 else None  # a box smaller than its header: not ISO BMFF


def _vint(handle: BinaryIO, keep_marker: bool) -> tuple[int, int, bool] | None:
    """(value, width, all ones) of an EBML variable-length integer at the handle's position."""
    first = handle.read(1)
    if not first:
        return None
    width = 9 - first[0].bit_length()
    if width > 8:
        return None
    data = first + handle.read(width - 1)
    if len(data) < width:
        return None
    value = int.from_bytes(data, "big")
    if not keep_marker:
        value &= (1 << (7 * width)) - 1
    return value, width, value == (1 << (7 * width)) - 1


def _ebml_end(handle: BinaryIO) -> int | None:
    """End of the Matroska Segment (the EBML header element first, then the Segment)."""
    handle.seek(0)
    position = 0
    for _ in range(8):  # EBML header, Void/CRC elements, then the Segment
        element = _vint(handle, keep_marker=True)
        size = _vint(handle, keep_marker=False)
        if element is None or size is None:
            return None
        position += element[1] + size[1]
        if element[0] == 0x18538067:  # Segment
            return None if size[2] else position + size[0]
        position += size[0]
        handle.seek(position)
    return None
