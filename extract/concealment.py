"""Decode like `ffmpeg -i x -f null -`: a packet a decoder refuses is skipped and counted, decoding
goes on, timestamps that are missing or go backwards are repaired, and what was lost is kept.

Why: scraped trailers are full of one damaged packet, a cut last audio frame, timestamps out of
order. ffmpeg warns and continues (its decoders conceal damaged video, and a refused packet costs
one frame); failing the whole trailer for that loses every feature computed in the same pass, and
the advice "re-download it" is wrong for a file that is fine. What was lost goes into the trailer's
record (`DecodeIssues.to_record`), and a stream counts as unusable only past a share of its duration
(`max_loss`): then only the features that need that stream fail (see `runner.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# Declared and decoded durations that differ by more than this (and by more than `max_loss` of the
# declared one) get a note in the record: remuxers write slightly different durations all the time.
DURATION_NOTE_S = 0.5


@dataclass
class StreamIssues:
    """What decoding one stream cost: packets refused by its decoder, frames it concealed."""

    index: int
    kind: str  # "video" or "audio"
    codec: str
    packets: int = 0
    packets_skipped: int = 0
    frames: int = 0
    frames_concealed: int = 0  # decoded, but flagged corrupt by the decoder (error concealment)
    samples: int = 0  # audio samples decoded, at `rate`
    rate: int | None = None
    seconds_decoded: float = 0.0
    seconds_missing: float = 0.0
    declared_s: float | None = None
    first_error: str | None = None
    frame_s: float = 0.0  # video: one frame's duration at the stream's frame rate

    @property
    def label(self) -> str:
        return f"{self.kind} stream {self.index} ({self.codec})"

    @property
    def lost_share(self) -> float:
        total = self.seconds_decoded + self.seconds_missing
        return self.seconds_missing / total if total > 0 else 0.0

    def skipped(self, packet: Any, error: Exception, fps: float) -> None:
        """Count a packet the decoder refused and the time it stood for."""
        self.packets_skipped += 1
        self.first_error = self.first_error or str(error)
        if packet.duration and packet.time_base is not None:
            self.seconds_missing += float(packet.duration * packet.time_base)
        elif self.kind == "video" and (self.frame_s or fps > 0):
            self.seconds_missing += self.frame_s or 1.0 / fps
        elif self.frames:  # audio without packet durations: the mean decoded frame
            self.seconds_missing += self.seconds_decoded / self.frames

    def decoded(self, frame: Any) -> None:
        self.frames += 1
        if getattr(frame, "is_corrupt", False):
            self.frames_concealed += 1
        if self.kind == "video":
            self.seconds_decoded += self.frame_s
        elif frame.sample_rate:
            self.samples += frame.samples
            self.rate = self.rate or frame.sample_rate
            self.seconds_decoded += frame.samples / frame.sample_rate

    def describe(self) -> str:
        """What happened, in words: "audio stream 1 (ac3): 1 packet of 354 could not be decoded"."""
        parts = []
        if self.packets_skipped:
            noun = "packet" if self.packets_skipped == 1 else "packets"
            parts.append(
                f"{self.packets_skipped} {noun} of {self.packets} could not be decoded "
                f"({self.seconds_missing:.2f} s missing, {self.lost_share:.1%})"
            )
        if self.frames_concealed:
            noun = "frame" if self.frames_concealed == 1 else "frames"
            parts.append(f"{self.frames_concealed} damaged {noun} concealed by the decoder")
        return f"{self.label}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.index,
            "kind": self.kind,
            "codec": self.codec,
            "packets": self.packets,
            "packets_skipped": self.packets_skipped,
            "frames": self.frames,
            "frames_concealed": self.frames_concealed,
            "samples": self.samples,
            "rate": self.rate,
            "seconds_missing": round(self.seconds_missing, 4),
            "seconds_decoded": round(self.seconds_decoded, 4),
            "declared_s": None if self.declared_s is None else round(self.declared_s, 4),
            "first_error": self.first_error,
        }


@dataclass
class DecodeIssues:
    """Everything one trailer's decode lost or repaired; `max_loss` decides what is unusable."""

    max_loss: float = 0.05
    streams: dict[int, StreamIssues] = field(default_factory=dict)
    timestamps_repaired: int = 0
    demux_error: str | None = None
    declared_s: float | None = None
    decoded_s: float | None = None  # end of the decoded media (video or audio, the later)
    notes: list[str] = field(default_factory=list)

    def stream(self, stream: Any, fps: float = 0.0) -> StreamIssues:
        """The account of `stream` (`fps`: the probed rate, if the stream has none of its own)."""
        if stream.index not in self.streams:
            declared = None
            if stream.duration is not None and stream.time_base is not None:
                declared = float(stream.duration * stream.time_base)
            # the codec's rate, not the average one (derived from the declared duration)
            rate = getattr(stream, "guessed_rate", None) or getattr(stream, "average_rate", None)
            rate = float(rate) if rate else fps
            self.streams[stream.index] = StreamIssues(
                stream.index,
                stream.type,
                stream.codec_context.name,
                declared_s=declared,
                frame_s=1.0 / rate if stream.type == "video" and rate else 0.0,
            )
        return self.streams[stream.index]

    def unusable(self, kind: str) -> StreamIssues | None:
        """The first stream of `kind` that lost more than `max_loss` of its duration, or None."""
        for issues in self.streams.values():
            if issues.kind == kind and issues.lost_share > self.max_loss:
                return issues
        return None

    def failure(self, kind: str) -> str | None:
        """The reason features of `kind` ("video"/"audio") fail on this trailer, or None."""
        issues = self.unusable(kind)
        if issues is None:
            return None
        return f"{issues.describe()}: more than {self.max_loss:.0%} lost, {kind} features failed"

    def damaged(self) -> list[StreamIssues]:
        return [s for s in self.streams.values() if s.packets_skipped or s.frames_concealed]

    def summary(self) -> list[str]:
        """One line per thing that happened (kept streams say so), for the record and the log."""
        lines = []
        for issues in self.damaged():
            if issues.lost_share <= self.max_loss:
                lines.append(f"{issues.describe()}; {issues.kind} features kept")
            else:
                lines.append(self.failure(issues.kind) or issues.describe())
        if self.timestamps_repaired:
            noun = "timestamp" if self.timestamps_repaired == 1 else "timestamps"
            lines.append(
                f"{self.timestamps_repaired} video {noun} missing or out of order, "
                f"repaired from the frame rate"
            )
        if self.demux_error:
            lines.append(f"reading the file stopped early: {self.demux_error}")
        return lines + self.notes

    def clean(self) -> bool:
        return not (self.damaged() or self.timestamps_repaired or self.demux_error or self.notes)

    def to_record(self) -> dict[str, Any]:
        return {
            "streams": [s.to_dict() for s in self.streams.values()],
            "timestamps_repaired": self.timestamps_repaired,
            "declared_s": None if self.declared_s is None else round(self.declared_s, 4),
            "decoded_s": None if self.decoded_s is None else round(self.decoded_s, 4),
            "max_loss": self.max_loss,
            "messages": self.summary(),
        }


def decoded_frames(
    container: Any, streams: list[Any], issues: DecodeIssues, fps: float
) -> Iterator[Any]:
    """Every frame the decoders of `streams` give, in demux order, skipping refused packets.

    A demuxing error ends the input (as in ffmpeg: "Error during demuxing"), after the decoders
    are flushed of the frames they still hold.
    """
    import av

    packets = container.demux(streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as error:
            issues.demux_error = str(error)
            for stream in streams:
                yield from _decode(stream.codec_context, None, stream, issues, fps)
            return
        yield from _decode(packet, packet, packet.stream, issues, fps)


def _decode(source: Any, packet: Any, stream: Any, issues: DecodeIssues, fps: float):
    """Frames of `source.decode(...)` (a packet, or a codec context being flushed)."""
    import av

    account = issues.stream(stream, fps)
    if packet is not None and packet.size:
        account.packets += 1
    try:
        frames = source.decode() if packet is not None else source.decode(None)
    except av.FFmpegError as error:  # ffmpeg: "Error submitting packet to decoder", and goes on
        if packet is not None and packet.size:
            account.skipped(packet, error, fps)
        return
    for frame in frames:
        account.decoded(frame)
        yield frame


class TimestampRepair:
    """Strictly increasing video frame times, with one frame of lookahead.

    A time is kept when it lies between its neighbours. A missing one, one not after the previous
    time, or one jumping past the next frame while the next one continues the previous ones (a
    single frame out of order), becomes the previous time plus one frame (ffmpeg guesses missing
    timestamps from the frame rate the same way); the next frame's time bounds it, so one bad
    timestamp never shifts the frames after it.
    """

    def __init__(self, fps: float, issues: DecodeIssues) -> None:
        self.step = 1.0 / fps if fps > 0 else 0.04
        self.issues = issues
        self._held: tuple[Any, float | None] | None = None
        self._previous: float | None = None

    def push(self, frame: Any) -> Iterator[tuple[Any, float]]:
        """Frames ready with their repaired time (the one before `frame`)."""
        time = None if frame.time is None else float(frame.time)
        if self._held is not None:
            yield self._release(*self._held, following=time)
        self._held = (frame, time)

    def finish(self) -> Iterator[tuple[Any, float]]:
        if self._held is not None:
            yield self._release(*self._held, following=None)
            self._held = None

    def _release(
        self, frame: Any, time: float | None, following: float | None
    ) -> tuple[Any, float]:
        previous = self._previous
        if time is not None and self._plausible(time, previous, following):
            self._previous = time
            return frame, time
        if previous is None:
            repaired = 0.0 if following is None else min(0.0, following - self.step)
        else:
            repaired = previous + self.step
            if following is not None and previous < following <= repaired:
                repaired = (previous + following) / 2
        self.issues.timestamps_repaired += 1
        self._previous = repaired
        return frame, repaired

    @staticmethod
    def _plausible(time: float, previous: float | None, following: float | None) -> bool:
        if previous is not None and time <= previous:
            return False
        if following is not None and time > following:
            # past the next frame: this one is out of order if the next one continues the others
            return previous is not None and following <= previous
        return True
