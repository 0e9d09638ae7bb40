"""Decoded video frame -> small upright RGB array: the per-frame cost every frame pays.

Why its own module: in the single decode pass every frame is converted for the largest size
anything needs (224 px short side for CLIP, 256 px wide for the scene detector), so this
conversion runs for every frame of every trailer and is, after decoding itself, the largest
per-frame CPU cost of extraction. On a GPU node the CPU side bounds the throughput. So it runs in
two halves (`FrameImage`): what every frame needs (the planes box-averaged and merged, and from
them the scene detector's thumbnail) at once, the rest (the bilinear rest of the ratio and the
colour matrix) only for the frames a sampler picks.

Two paths, same result within a few grey levels:

- **fast path** for 8-bit 4:2:0 frames (`yuv420p`, `yuvj420p`: almost every trailer), when the
  frame shrinks by at least 2x. The luma plane is box-averaged by the largest even integer factor
  `k` (OpenCV's integer-ratio area path, a few hundred microseconds at 720p), the chroma planes by
  `k / 2`, so the three planes meet at one size with full chroma resolution. The rest of the ratio
  (always under 2x) is bilinear, the way Pillow's `reduce()` + resample does it. Only then is the
  YCbCr -> RGB matrix applied (`cv2.transform`, one affine 3x4 per pixel), at the final size. The
  matrix follows the frame's colour space (BT.601, BT.709, BT.2020, SMPTE 240M, FCC) and range.
  Measured on the 720p `trailer_bbb.mp4` to 398x224: 0.5 ms per frame against 1.8 ms for
  swscale's area filter, and closer to the exact colours (swscale's default conversion is off by
  1-2 levels; see `tests/extract/test_scaling.py`).
- **swscale** (`VideoFrame.reformat`, area filter) for everything else: 10-bit, 4:2:2, 4:4:4,
  hardware formats, an unknown colour space, frames smaller than twice the target.

Rotation metadata is applied after scaling (`np.rot90`), so the coded frame is scaled to the
transposed size when the display is rotated by 90 degrees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

# (Kr, Kb) luma coefficients by FFmpeg's AVColorSpace value. Unspecified (2) means BT.601 to
# swscale, so it does here too.
LUMA_COEFFICIENTS: dict[int, tuple[float, float]] = {
    1: (0.2126, 0.0722),  # BT.709
    2: (0.299, 0.114),  # unspecified -> BT.601
    4: (0.30, 0.11),  # FCC
    5: (0.299, 0.114),  # BT.470BG (PAL BT.601)
    6: (0.299, 0.114),  # SMPTE 170M (NTSC BT.601)
    7: (0.212, 0.087),  # SMPTE 240M
    9: (0.2627, 0.0593),  # BT.2020 non-constant luminance
}
FAST_FORMATS = {"yuv420p": False, "yuvj420p": True}  # format -> full range by definition
JPEG_RANGE = 2  # AVColorRange: 1 = MPEG (limited), 2 = JPEG (full)

_MATRICES: dict[tuple[int, bool], np.ndarray] = {}


def ycbcr_to_rgb_matrix(colorspace: int, full_range: bool) -> np.ndarray:
    """3x4 float32 affine matrix mapping (Y, Cb, Cr, 1) -> (R, G, B), for `cv2.transform`."""
    key = (colorspace, full_range)
    if key not in _MATRICES:
        kr, kb = LUMA_COEFFICIENTS[colorspace]
        kg = 1.0 - kr - kb
        rows = np.array(
            [
                [1.0, 0.0, 2 * (1 - kr)],
                [1.0, -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
                [1.0, 2 * (1 - kb), 0.0],
            ]
        )
        luma_scale, chroma_scale, black = (
            (1.0, 1.0, 0.0) if full_range else (255 / 219, 255 / 224, 16.0)
        )
        scaled = rows * np.array([luma_scale, chroma_scale, chroma_scale])
        offset = -(scaled[:, 0] * black + (scaled[:, 1] + scaled[:, 2]) * 128.0)
        _MATRICES[key] = np.hstack([scaled, offset[:, None]]).astype(np.float32)
    return _MATRICES[key]


def frame_to_rgb(frame: Any, size: tuple[int, int], rotation: int = 0) -> np.ndarray:
    """RGB uint8 (h, w, 3) at display `size` (w, h), upright, from a PyAV `VideoFrame`."""
    return FrameImage(frame, size, rotation).rgb()


class FrameImage:
    """One decoded frame on its way to RGB at display `size`: converted only as far as every
    frame needs it, the rest when (if) the frame is used.

    Why: the decode pass keeps the last seconds of frames because scene-dependent samplers pick
    theirs only when a shot ends; most of those frames are never picked. On the fast path the
    planes are box-averaged and merged now (50 us at 720p: the detector needs them), and the
    bilinear rest and the colour matrix (200 us at 720p to 398x224, the larger part) run in
    `rgb()`, for the frames some sampler picks. `rgb()` is `frame_to_rgb`, bit for bit (the same
    steps in the same order). The swscale path converts at once. Memory while buffered: the
    merged planes (at 720p 640x360x3 = 0.7 MB, at 1080p 480x270x3 = 0.4 MB a frame).
    """

    def __init__(self, frame: Any, size: tuple[int, int], rotation: int = 0) -> None:
        self.size = size
        self.rotation = rotation
        width, height = size
        self._coded = (height, width) if rotation % 180 == 90 else (width, height)
        self._rgb: np.ndarray | None = None
        self._ycbcr, self._matrix = _reduced_yuv420(frame, self._coded)
        if self._ycbcr is None:
            coded = self._coded
            self._rgb = self._upright(
                frame.reformat(
                    width=coded[0], height=coded[1], format="rgb24", interpolation="AREA"
                ).to_ndarray()
            )

    @property
    def deferred(self) -> bool:
        """True on the fast path: `scaled` reads the merged planes, not the RGB frame."""
        return self._ycbcr is not None

    @property
    def nbytes(self) -> int:
        """Bytes held: the merged planes and, once computed, the RGB frame."""
        return sum(a.nbytes for a in (self._ycbcr, self._rgb) if a is not None)

    def rgb(self) -> np.ndarray:
        """RGB uint8 (h, w, 3) at `size`, upright (computed once)."""
        if self._rgb is None:
            self._rgb = self._upright(_to_rgb(self._ycbcr, self._coded, self._matrix))
        return self._rgb

    def at(self, size: tuple[int, int]) -> np.ndarray:
        """`rgb()` area-averaged to (w, h) `size`, as `resized(rgb(), size)`."""
        return resized(self.rgb(), size)

    def scaled(self, size: tuple[int, int]) -> np.ndarray:
        """A bilinear RGB thumbnail at (w, h) `size` for the scene detector: on the fast path
        straight from the merged planes (bilinear, then the colour matrix), without `rgb()`;
        otherwise `resized(rgb(), size, linear=True)`."""
        if self._ycbcr is None:
            return resized(self.rgb(), size, linear=True)
        width, height = size
        coded = (height, width) if self.rotation % 180 == 90 else (width, height)
        return self._upright(_to_rgb(self._ycbcr, coded, self._matrix))

    def _upright(self, array: np.ndarray) -> np.ndarray:
        if self.rotation:
            return np.ascontiguousarray(np.rot90(array, k=self.rotation // 90))
        return array


def fast_yuv420_to_rgb(frame: Any, size: tuple[int, int]) -> np.ndarray | None:
    """The fast path (see the module docstring), or None when it does not apply to `frame`."""
    ycbcr, matrix = _reduced_yuv420(frame, size)
    return None if ycbcr is None else _to_rgb(ycbcr, size, matrix)


def _reduced_yuv420(
    frame: Any, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """The fast path's first half: the planes box-averaged to one common size and merged
    (Y, Cb, Cr), with the frame's colour matrix; (None, None) where the fast path does not
    apply."""
    full_range = FAST_FORMATS.get(frame.format.name)
    if full_range is None or frame.colorspace not in LUMA_COEFFICIENTS:
        return None, None
    width, height = size
    factor = min(frame.width // width, frame.height // height)
    factor -= factor % 2
    if factor < 2:
        return None, None
    import cv2

    full_range = full_range or frame.color_range == JPEG_RANGE
    chroma_w, chroma_h = (frame.width + 1) // 2, (frame.height + 1) // 2
    luma = _plane(frame.planes[0], frame.width, frame.height)
    cb = _plane(frame.planes[1], chroma_w, chroma_h)
    cr = _plane(frame.planes[2], chroma_w, chroma_h)
    # box-average to one common size; the last < factor rows/columns are dropped (at most
    # factor - 1 source pixels, well under one output pixel)
    small_w, small_h = frame.width // factor, frame.height // factor
    luma = cv2.resize(
        luma[: small_h * factor, : small_w * factor],
        (small_w, small_h),
        interpolation=cv2.INTER_AREA,
    )
    half = factor // 2
    if half > 1:
        crop = (slice(0, small_h * half), slice(0, small_w * half))
        cb = cv2.resize(cb[crop], (small_w, small_h), interpolation=cv2.INTER_AREA)
        cr = cv2.resize(cr[crop], (small_w, small_h), interpolation=cv2.INTER_AREA)
    else:
        cb, cr = cb[:small_h, :small_w], cr[:small_h, :small_w]
    # merge copies: the result does not hold on to the decoder's frame buffers
    ycbcr = cv2.merge([luma, np.ascontiguousarray(cb), np.ascontiguousarray(cr)])
    return ycbcr, ycbcr_to_rgb_matrix(frame.colorspace, full_range)


def _to_rgb(ycbcr: np.ndarray, size: tuple[int, int], matrix: np.ndarray) -> np.ndarray:
    """The fast path's second half: the bilinear rest of the ratio, then the colour matrix."""
    import cv2

    if (ycbcr.shape[1], ycbcr.shape[0]) != size:
        ycbcr = cv2.resize(ycbcr, size, interpolation=cv2.INTER_LINEAR)
    # saturating uint8 output: the matrix maps out-of-gamut YCbCr beyond [0, 255]
    return cv2.transform(ycbcr, matrix)


@contextmanager
def serial_opencv() -> Iterator[None]:
    """OpenCV on one thread while the block runs (the previous count is restored after).

    Why: every OpenCV call of the decode pass works on one small frame (256 to 400 px: a resize
    of 40 to 170 us), too small to split; OpenCV's thread pool wakes its threads for every call
    anyway, and that costs more CPU than it saves. Measured on the null-model pipeline over
    `trailer_bbb.mp4` (docs/bench-extract.md, AMD EPYC, 2 vCPUs): 4.04 -> 3.75 CPU s per trailer,
    with the same output (the pool splits rows; each row is computed the same way). The cores
    are used by FFmpeg's decoder threads and by the worker processes (`--workers`), not by
    OpenCV. OpenCV's count is process-wide, so the models' own OpenCV calls run on one thread
    too while a runner decodes.
    """
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def resized(frame: np.ndarray, size: tuple[int, int], linear: bool = False) -> np.ndarray:
    """`frame` at (w, h) `size` by area averaging, or bilinear (6x cheaper at non-integer ratios)
    when `linear`; a no-op when it already has that size."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    import cv2

    return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR if linear else cv2.INTER_AREA)


def _plane(plane: Any, width: int, height: int) -> np.ndarray:
    """A frame plane as an (height, width) uint8 view (rows are `line_size` bytes apart)."""
    rows = np.frombuffer(plane, np.uint8, count=plane.line_size * height)
    return rows.reshape(height, plane.line_size)[:, :width]
