"""The damaged-media corpus: real codecs, damaged the way scraped trailers are, and what cinefeat
keeps of each next to what `ffmpeg` decodes of it.

Every file is made here from clean synthetic media (a 2 s, 160x90, 25 fps test pattern and a
440 Hz tone) with the imageio-ffmpeg binary, then damaged at the byte level: a packet's bytes are
found with PyAV (`packet.pos` points at the packet or its container header; the payload is
searched from there) and overwritten, cut or stripped. The same module is the tests' corpus
(tests/extract/test_media_corpus.py loads it) so the table in docs/media-corpus.md is the tested
corpus.

For each case the table gives the video frames and audio seconds ffmpeg decodes (`ffmpeg -i X
-fps_mode passthrough -f framecrc -`: the decode of `-f null`, one line per decoded frame, every
frame kept), the same from cinefeat's record (`extra["decode_issues"]`), the features kept
(colour histograms for the video; `loudness`, a weight-free RMS per 1 s window, for the audio),
the trailer's status and the first message of its record.

Usage: python benchmarks/media_corpus.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SECONDS, FPS, SIZE, RATE = 2.0, 25, "160x90", 44100


# -- media -----------------------------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args]
    subprocess.run(command, check=True)


def _video(seconds: float = SECONDS) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc=s={SIZE}:r={FPS}:d={seconds}"]


def _tone(seconds: float = SECONDS) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={RATE}:d={seconds}"]


H264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "0", "-g", "50"]
MPEG4 = ["-c:v", "mpeg4", "-q:v", "5"]  # MPEG-4 part 2, as Xvid/DivX write it


def clean(path: Path, video: list[str], audio: list[str], v_s=SECONDS, a_s=SECONDS, *extra: str):
    ffmpeg(*_video(v_s), *_tone(a_s), *video, *audio, *extra, str(path))
    return path


def packets(path: Path) -> dict[str, list[tuple[int, int, bool]]]:
    """(offset of the payload in the file, size, keyframe) of every packet, per stream type."""
    import av

    data = path.read_bytes()
    out: dict[str, list[tuple[int, int, bool]]] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if not packet.size:
                continue
            # Matroska's pos is its block header, AVI's and MP4's the payload: search from there
            offset = data.find(bytes(packet), packet.pos)
            out.setdefault(packet.stream.type, []).append((offset, packet.size, packet.is_keyframe))
    return out


def overwrite(path: Path, spans: list[tuple[int, bytes]]) -> Path:
    data = bytearray(path.read_bytes())
    for offset, patch in spans:
        data[offset : offset + len(patch)] = patch
    path.write_bytes(bytes(data))
    return path


def middle(packet: tuple[int, int, bool]) -> tuple[int, bytes]:
    """The middle half of a packet, overwritten with a constant (as a bad sector or bit rot)."""
    offset, size, _ = packet
    return offset + size // 4, b"\x5a" * (size // 2)


# -- the cases -------------------------------------------------------------------------------------


def avi_ac3_last_frame_cut(folder: Path) -> Path:
    """The issue's trailer: Xvid-style MPEG-4 + AC3 in AVI, the last AC3 frame incomplete."""
    raw = folder / "tone.ac3"
    ffmpeg(*_tone(), "-c:a", "ac3", "-b:a", "96k", str(raw))
    raw.write_bytes(raw.read_bytes()[:-200])  # the last frame is 418 bytes: cut 200 of them
    path = folder / "avi-ac3-last-frame-cut.avi"
    ffmpeg(
        *_video(), "-i", str(raw), "-map", "0:v", "-map", "1:a", *MPEG4, "-c:a", "copy", str(path)
    )
    return path


def avi_ac3_refused_packet(folder: Path) -> Path:
    """One AC3 frame whose sync word is gone: its decoder refuses the packet."""
    path = clean(folder / "avi-ac3-refused-packet.avi", MPEG4, ["-c:a", "ac3", "-b:a", "96k"])
    offset, _, _ = packets(path)["audio"][20]
    return overwrite(path, [(offset, b"\x00\x00")])  # AC3 frames start with 0x0B77


def mp4_one_audio_packet_one_p_frame(folder: Path) -> Path:
    """H.264 + AAC in MP4, bytes overwritten inside one audio packet and inside one P-frame."""
    path = clean(folder / "mp4-audio-packet-and-p-frame.mp4", H264, ["-c:a", "aac"])
    found = packets(path)
    p_frames = [p for p in found["video"] if not p[2]]
    return overwrite(path, [middle(found["audio"][40]), middle(p_frames[20])])


def mp4_audio_unusable(folder: Path) -> Path:
    """Every 8th AAC packet overwritten: 11 of 88 refused, more than 5 % of the audio lost."""
    path = clean(folder / "mp4-audio-unusable.mp4", H264, ["-c:a", "aac"])
    return overwrite(path, [middle(p) for p in packets(path)["audio"][4::8]])


def _vop_start_codes_gone(path: Path, which: slice) -> Path:
    """Zero the start code (00 00 01 B6) of some MPEG-4 P-frames: the decoder refuses them."""
    p_frames = [p for p in packets(path)["video"] if not p[2]]
    return overwrite(path, [(offset, b"\x00" * 4) for offset, _, _ in p_frames[which]])


def avi_mpeg4_refused_frame(folder: Path) -> Path:
    """One MPEG-4 P-frame refused ("header damaged"): 1 frame of 50 lost, video features kept."""
    path = clean(folder / "avi-mpeg4-refused-frame.avi", MPEG4, ["-c:a", "ac3", "-b:a", "96k"])
    return _vop_start_codes_gone(path, slice(20, 21))


def avi_video_unusable(folder: Path) -> Path:
    """5 of 50 MPEG-4 frames refused: 10 % of the video lost, visual features fail."""
    path = clean(folder / "avi-video-unusable.avi", MPEG4, ["-c:a", "ac3", "-b:a", "96k"])
    return _vop_start_codes_gone(path, slice(5, None, 8))


def mkv_timestamps_out_of_order(folder: Path) -> Path:
    """Matroska with frame 24's timestamp 5 frames ahead (so frame 25 goes backwards): the middle
    frame of the one shot, which a seek by timestamp could not find again."""
    source = clean(folder / "in-order.mp4", H264, ["-c:a", "aac"])
    path = folder / "mkv-timestamps-out-of-order.mkv"
    jump = "setts=pts='if(eq(N,24),PTS+5*DURATION,PTS)'"
    ffmpeg("-i", str(source), "-c", "copy", "-bsf:v", jump, str(path))
    return path


def avi_without_index(folder: Path) -> Path:
    """The idx1 chunk removed, the RIFF size and the avih has-index flag made to agree."""
    path = clean(folder / "avi-without-index.avi", MPEG4, ["-c:a", "ac3", "-b:a", "96k"])
    data = bytearray(path.read_bytes())
    index = data.rfind(b"idx1")
    (size,) = struct.unpack("<I", data[index + 4 : index + 8])
    del data[index : index + 8 + size]
    struct.pack_into("<I", data, 4, len(data) - 8)  # RIFF size
    flags = data.find(b"avih") + 8 + 12  # dwMicroSecPerFrame, dwMaxBytesPerSec, padding, dwFlags
    struct.pack_into("<I", data, flags, struct.unpack("<I", data[flags : flags + 4])[0] & ~0x10)
    path.write_bytes(bytes(data))
    return path


def mkv_mp3_damaged_header(folder: Path) -> Path:
    """H.264 + MP3 in Matroska, one MP3 frame header with an invalid version field."""
    path = clean(folder / "mkv-mp3-damaged-header.mkv", H264, ["-c:a", "libmp3lame", "-b:a", "64k"])
    offset, _, _ = packets(path)["audio"][30]
    return overwrite(path, [(offset + 1, b"\xe8")])  # 0xFFFB -> 0xFFE8: MPEG version "reserved"


def mp4_audio_shorter(folder: Path) -> Path:
    return clean(folder / "mp4-audio-shorter.mp4", H264, ["-c:a", "aac"], SECONDS, 1.0)


def mkv_video_shorter(folder: Path) -> Path:
    return clean(folder / "mkv-video-shorter.mkv", H264, ["-c:a", "aac"], 1.0, 2.5)


def _declare(path: Path, factor: float) -> Path:
    """Multiply the Matroska Segment Info Duration (ID 0x4489, a float of 4 or 8 bytes)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89")
    kind = {0x84: ">f", 0x88: ">d"}[data[at + 2]]
    (value,) = struct.unpack_from(kind, data, at + 3)
    struct.pack_into(kind, data, at + 3, value * factor)
    path.write_bytes(bytes(data))
    return path


def mkv_declared_twice(folder: Path) -> Path:
    return _declare(clean(folder / "mkv-declared-twice.mkv", H264, ["-c:a", "aac"]), 2.0)


def mkv_declares_10_hours(folder: Path) -> Path:
    return _declare(clean(folder / "mkv-declares-10-hours.mkv", H264, ["-c:a", "aac"]), 18_000.0)


def mp4_truncated_40(folder: Path) -> Path:
    """Index first (as a streaming site serves it), the download stopped at 40 %."""
    path = clean(folder / "mp4-truncated-40.mp4", H264, ["-c:a", "aac"], SECONDS, SECONDS,
                 "-movflags", "+faststart")  # fmt: skip
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])
    return path


def avi_truncated_40(folder: Path) -> Path:
    path = clean(folder / "avi-truncated-40.avi", MPEG4, ["-c:a", "ac3", "-b:a", "96k"])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])
    return path


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]


CASES = [
    Case("avi-ac3-last-frame-cut", avi_ac3_last_frame_cut),
    Case("avi-ac3-refused-packet", avi_ac3_refused_packet),
    Case("mp4-audio-packet-and-p-frame", mp4_one_audio_packet_one_p_frame),
    Case("mp4-audio-unusable", mp4_audio_unusable),
    Case("avi-mpeg4-refused-frame", avi_mpeg4_refused_frame),
    Case("avi-video-unusable", avi_video_unusable),
    Case("mkv-timestamps-out-of-order", mkv_timestamps_out_of_order),
    Case("avi-without-index", avi_without_index),
    Case("mkv-mp3-damaged-header", mkv_mp3_damaged_header),
    Case("mp4-audio-shorter", mp4_audio_shorter),
    Case("mkv-video-shorter", mkv_video_shorter),
    Case("mkv-declared-twice", mkv_declared_twice),
    Case("mkv-declares-10-hours", mkv_declares_10_hours),
    Case("mp4-truncated-40", mp4_truncated_40),
    Case("avi-truncated-40", avi_truncated_40),
]


def build_corpus(folder: Path) -> dict[str, Path]:
    """Every case's file in `folder` (each builder gets its own subfolder for scratch files)."""
    out = {}
    for case in CASES:
        scratch = folder / case.name
        scratch.mkdir(parents=True, exist_ok=True)
        out[case.name] = case.build(scratch)
    return out


# -- what ffmpeg decodes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    video_frames: int
    audio_samples: int  # at the audio stream's own rate
    audio_rate: int

    @property
    def audio_s(self) -> float:
        return self.audio_samples / self.audio_rate


def ffmpeg_decoded(path: Path) -> Decoded:
    """Frames and audio seconds `ffmpeg` decodes: framecrc lists each decoded frame (with its
    duration in 1/sample-rate units for audio); passthrough keeps frames with odd timestamps."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "quiet", "-i", str(path),
               "-fps_mode", "passthrough", "-f", "framecrc", "-"]  # fmt: skip
    lines = subprocess.run(command, capture_output=True, text=True).stdout.splitlines()
    kinds: dict[str, str] = {}
    rates: dict[str, int] = {}
    frames, samples = 0, 0
    for line in lines:
        if line.startswith("#media_type"):
            stream, kind = line[len("#media_type") :].split(":")
            kinds[stream.strip()] = kind.strip()
        elif line.startswith("#sample_rate"):
            stream, rate = line[len("#sample_rate") :].split(":")
            rates[stream.strip()] = int(rate)
        elif line and not line.startswith("#"):
            stream, _dts, _pts, duration, *_ = (x.strip() for x in line.split(","))
            if kinds.get(stream) == "video":
                frames += 1
            elif kinds.get(stream) == "audio":
                samples += int(duration)
    return Decoded(frames, samples, next(iter(rates.values()), RATE))


# -- what cinefeat keeps ---------------------------------------------------------------------------


def loudness_extractor() -> Any:
    """A weight-free audio feature: RMS of each 1 s window (hop 0.5 s) at 8 kHz."""
    from cinefeat.extract.base import AudioRequest, BatchExtractor, ExtractorConfig

    class Loudness(BatchExtractor):
        name = "loudness"
        kind = "audio"
        config_class = ExtractorConfig

        @property
        def dim(self) -> int:
            return 1

        def request(self) -> AudioRequest:
            return AudioRequest(sample_rate=8000, window_s=1.0, hop_s=0.5)

        def load(self, device: str = "cpu", fp16: bool = False) -> None:
            pass

        def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
            return np.array([[float(np.sqrt(np.mean(x**2)))] for x in items], np.float32)

    return Loudness()


def run_cinefeat(files: dict[str, Path], store: Any = None) -> Any:
    """Colour histograms and loudness of every file into `store` (in memory by default)."""
    from cinefeat.extract.extractors.colorhist import ColorHistExtractor
    from cinefeat.extract.runner import LocalRunner, RunOptions
    from cinefeat.extract.scan import Trailer
    from cinefeat.store import TrailerRecord
    from cinefeat.store.memory import MemoryStore

    store = store if store is not None else MemoryStore()
    extractors = {"colorhist": ColorHistExtractor(), "loudness": loudness_extractor()}
    runner = LocalRunner(store, extractors, RunOptions(batch_size=16), record_factory=TrailerRecord)
    runner.run([Trailer(name, path) for name, path in files.items()])
    return store


def cinefeat_decoded(record: Any) -> Decoded:
    streams = (record.extra.get("decode_issues") or {}).get("streams", [])
    video = sum(s["frames"] for s in streams if s["kind"] == "video")
    audio = [s for s in streams if s["kind"] == "audio"]
    samples = sum(s["samples"] for s in audio)
    return Decoded(video, samples, audio[0]["rate"] if audio else RATE)


def table(files: dict[str, Path], store: Any) -> str:
    header = ("case", "ffmpeg frames", "cinefeat frames", "ffmpeg audio s", "cinefeat audio s",
              "features kept", "status", "first message")  # fmt: skip
    rows = [header]
    for name, path in files.items():
        record = store.record(name)
        theirs, ours = ffmpeg_decoded(path), cinefeat_decoded(record)
        kept = [f for f, s in record.feature_status.items() if s == "ok"]
        messages = (record.extra.get("decode_issues") or {}).get("messages", [])
        first = record.error if record.status == "failed" else (messages[0] if messages else "")
        rows.append((name, str(theirs.video_frames), str(ours.video_frames),
                     f"{theirs.audio_s:.3f}", f"{ours.audio_s:.3f}", ", ".join(kept) or "-",
                     record.status, _short(first, Path(path))))  # fmt: skip
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("---" for _ in header) + "|")
    return "\n".join(lines)


def _short(message: str, path: Path) -> str:
    return message.replace(str(path), path.name).replace("|", "/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="build the corpus here and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        files = build_corpus(folder)
        store = run_cinefeat(files)
        print(table(files, store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
