"""`--hwaccel auto|none|cuda`: decode video on the GPU (NVDEC) where the build and machine allow.

Why optional and off by default: with a cheap model on a GPU, decoding is the CPU's main cost
(docs/bench-extract.md), and NVDEC takes it off the CPU; but hardware decoders hand back NV12
frames whose colour conversion goes through swscale instead of the 4:2:0 fast path in
`scaling.py`, so features differ from software decoding by a grey level or so, and a store should
not mix the two silently. The decoder that ran is logged once per process and outcome.

How: PyAV's `av.codec.hwaccel.HWAccel` passed to `av.open` (PyAV >= 14, FFmpeg built with the
device type: `av.codec.hwaccel.hwdevices_available()`), with `allow_software_fallback` so a codec
NVDEC cannot decode (e.g. some profiles) falls back inside FFmpeg. A machine without the device
(no GPU, no driver: FFmpeg fails to create the device context) is found on the first file: that
process then decodes in software for good and says so once, instead of failing every trailer.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

CHOICES = ("none", "auto", "cuda")
AUTO_ORDER = ("cuda",)  # device types `auto` tries, in order

# per process: requested choice -> device type that works (None: software)
_resolved: dict[str, str | None] = {}
_said: set[tuple[str, str]] = set()


def candidates(requested: str) -> list[str]:
    """Device types to try for `requested`, among those this FFmpeg build knows."""
    if requested not in CHOICES:
        raise ValueError(f"--hwaccel must be one of {', '.join(CHOICES)}, got {requested!r}")
    if requested == "none":
        return []
    try:
        from av.codec.hwaccel import hwdevices_available
    except ImportError:  # PyAV < 14: no hardware decoding
        return []
    built = set(hwdevices_available())
    wanted = AUTO_ORDER if requested == "auto" else (requested,)
    return [t for t in wanted if t in built]


def open_video(path: str, requested: str = "none") -> Any:
    """`av.open(path)`, with the hardware decoder of `requested` where it works here."""
    import av

    device = _device_for(path, requested)
    if device is None:
        return av.open(path)
    from av.codec.hwaccel import HWAccel

    return av.open(path, hwaccel=HWAccel(device_type=device, allow_software_fallback=True))


def used(requested: str) -> str:
    """What decodes for `requested` in this process: a device type or "software"."""
    return _resolved.get(requested) or "software"


def _device_for(path: str, requested: str) -> str | None:
    if requested in _resolved:
        return _resolved[requested]
    device = None
    errors = []
    for kind in candidates(requested):
        try:
            _try(path, kind)
        except Exception as error:  # FFmpeg could not create the device or decode on it
            errors.append(f"{kind}: {error}")
            continue
        device = kind
        break
    _resolved[requested] = device
    if device is not None:
        _say(requested, f"video decoding on {device} (hardware, --hwaccel {requested})")
    elif requested != "none":
        why = "; ".join(errors) or "this FFmpeg build has no such device type"
        _say(requested, f"video decoding in software: --hwaccel {requested} unavailable ({why})")
    return device


def _try(path: str, kind: str) -> None:
    """Decode one frame of `path` on `kind`; raises where the device cannot be used."""
    import av
    from av.codec.hwaccel import HWAccel

    with av.open(path, hwaccel=HWAccel(device_type=kind, allow_software_fallback=True)) as box:
        next(box.decode(box.streams.video[0]))


def _say(requested: str, message: str) -> None:
    if (requested, message) in _said:
        return
    _said.add((requested, message))
    level = logging.WARNING if requested == "cuda" and "software" in message else logging.INFO
    log.log(level, "%s", message)


def reset() -> None:
    """Forget what was resolved (tests; a process that gets a GPU later)."""
    _resolved.clear()
    _said.clear()


def note_stream(requested: str, stream: Any) -> None:
    """Say (once) when a working device still decodes this stream in software (FFmpeg's
    fallback for a codec or profile the device lacks)."""
    device = _resolved.get(requested)
    if device is not None and not getattr(stream.codec_context, "is_hwaccel", True):
        codec = stream.codec_context.name
        _say(requested, f"video decoding in software for {codec}: {device} cannot decode it")
