"""The per-frame RGB conversion: fast 4:2:0 path against exact colours and against swscale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinefeat.extract.scaling import (
    fast_yuv420_to_rgb,
    frame_to_rgb,
    ycbcr_to_rgb_matrix,
)


def first_frame(path: Path):
    import av

    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def flat_video(run_ffmpeg, path: Path, colour: str, pix_fmt: str, *tags: str) -> Path:
    """A lossless (qp 0) 1280x720 solid colour frame: every pixel has the same Y, Cb, Cr."""
    run_ffmpeg(
        "-f", "lavfi", "-i", f"color=c={colour}:s=1280x720:r=24:d=0.2",
        "-c:v", "libx264", "-qp", "0", "-pix_fmt", pix_fmt, *tags, str(path),
    )  # fmt: skip
    return path


def exact_rgb(frame) -> np.ndarray:
    """The textbook conversion of the frame's centre pixel, in float."""
    planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes]
    y = planes[0][frame.height // 2, frame.width // 2]
    cb = planes[1][frame.height // 4, frame.width // 4]
    cr = planes[2][frame.height // 4, frame.width // 4]
    full = frame.format.name == "yuvj420p" or frame.color_range == 2
    matrix = ycbcr_to_rgb_matrix(frame.colorspace, full)
    return matrix[:, :3] @ np.array([y, cb, cr], np.float64) + matrix[:, 3]


@pytest.mark.parametrize(
    ("pix_fmt", "tags", "colorspace"),
    [
        ("yuv420p", ("-colorspace", "bt709"), 1),
        ("yuv420p", ("-colorspace", "smpte170m"), 6),
        ("yuv420p", (), 2),  # untagged: BT.601, as swscale assumes
        ("yuv420p", ("-colorspace", "bt2020nc"), 9),
        ("yuvj420p", (), 2),  # full range
    ],
)
def test_fast_path_gives_the_exact_colours(run_ffmpeg, tmp_path, pix_fmt, tags, colorspace):
    frame = first_frame(flat_video(run_ffmpeg, tmp_path / "flat.mp4", "0xC04020", pix_fmt, *tags))
    assert frame.colorspace == colorspace
    fast = fast_yuv420_to_rgb(frame, (398, 224))
    assert fast is not None and fast.shape == (224, 398, 3) and fast.dtype == np.uint8
    exact = exact_rgb(frame)
    assert np.abs(fast.reshape(-1, 3).astype(float) - exact).max() < 0.6  # float32 rounding
    # the source colour itself survives the YCbCr round trip within a few levels
    assert np.abs(fast[100, 200].astype(int) - [0xC0, 0x40, 0x20]).max() <= 3
    # and swscale's area filter agrees within its own rounding (it is off by 1-2 levels)
    swscale = frame.reformat(width=398, height=224, format="rgb24", interpolation="AREA")
    assert np.abs(swscale.to_ndarray().astype(int) - fast.astype(int)).max() <= 3


def test_fast_path_matches_swscale_on_a_real_trailer(media):
    import av

    frames = []
    with av.open(str(media("trailer_bbb.mp4"))) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 60 == 30:
                frames.append(frame)
            if len(frames) == 10:
                break
    for frame in frames:
        fast = fast_yuv420_to_rgb(frame, (398, 224))
        swscale = frame.reformat(width=398, height=224, format="rgb24", interpolation="AREA")
        difference = np.abs(fast.astype(int) - swscale.to_ndarray().astype(int))
        # different but equally valid low-pass filters: edges differ, the picture does not
        assert difference.mean() < 3.0
        assert np.percentile(difference, 95) <= 8


def test_other_formats_and_small_ratios_fall_back_to_swscale(run_ffmpeg, tmp_path):
    ten_bit = first_frame(flat_video(run_ffmpeg, tmp_path / "10bit.mkv", "0x2060C0", "yuv420p10le"))
    assert fast_yuv420_to_rgb(ten_bit, (398, 224)) is None
    rgb = frame_to_rgb(ten_bit, (398, 224))
    assert rgb.shape == (224, 398, 3)
    assert np.abs(rgb[100, 200].astype(int) - [0x20, 0x60, 0xC0]).max() <= 4

    eight_bit = first_frame(flat_video(run_ffmpeg, tmp_path / "8bit.mp4", "0x2060C0", "yuv420p"))
    assert fast_yuv420_to_rgb(eight_bit, (800, 450)) is None  # less than 2x smaller
    assert frame_to_rgb(eight_bit, (800, 450)).shape == (450, 800, 3)


def test_rotation_scales_the_coded_frame_to_the_transposed_size(run_ffmpeg, tmp_path):
    # a left half red, right half blue landscape frame, shown rotated by 90 degrees
    path = tmp_path / "halves.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:s=640x720:d=0.2", "-f", "lavfi",
        "-i", "color=c=blue:s=640x720:d=0.2", "-filter_complex", "hstack", "-c:v", "libx264",
        "-qp", "0", "-pix_fmt", "yuv420p", str(path),
    )  # fmt: skip
    frame = first_frame(path)
    upright = frame_to_rgb(frame, (224, 398), rotation=90)  # display size (w, h) is portrait
    assert upright.shape == (398, 224, 3)
    # np.rot90 by +90 (counter-clockwise) puts the coded right half (blue) on top
    assert upright[20, 112, 2] > 200 and upright[20, 112, 0] < 50
    assert upright[-20, 112, 0] > 200 and upright[-20, 112, 2] < 50


def test_frame_image_converts_to_rgb_only_when_asked(media) -> None:
    """The detector's thumbnail comes from the merged planes; the full RGB frame is computed on
    `rgb()` only, and equals the one-step fast path bit for bit."""
    from cinefeat.extract.scaling import FrameImage, resized

    frame = first_frame(media("trailer_bbb.mp4"))  # 1280x720 yuv420p: the fast path
    image = FrameImage(frame, (398, 224))
    assert image.deferred
    merged = image.nbytes
    assert merged == 640 * 360 * 3  # only the box-averaged planes so far
    thumbnail = image.scaled((256, 144))
    assert thumbnail.shape == (144, 256, 3) and image.nbytes == merged  # still no RGB frame
    rgb = image.rgb()
    assert np.array_equal(rgb, fast_yuv420_to_rgb(frame, (398, 224)))
    assert image.nbytes == merged + rgb.nbytes
    assert np.array_equal(image.at((160, 90)), resized(rgb, (160, 90)))
    # the thumbnail is a bilinear downscale of the same frame: within a few grey levels of
    # downscaling the RGB frame
    error = np.abs(thumbnail.astype(int) - resized(rgb, (256, 144), linear=True)).mean()
    assert error < 2.0


def test_frame_image_off_the_fast_path_converts_at_once(tmp_path: Path, run_ffmpeg) -> None:
    from cinefeat.extract.scaling import FrameImage, resized

    frame = first_frame(flat_video(run_ffmpeg, tmp_path / "c.mp4", "red", "yuv420p"))
    image = FrameImage(frame, (800, 450))  # less than 2x smaller: swscale
    assert not image.deferred and image.nbytes == 800 * 450 * 3
    assert np.array_equal(image.scaled((256, 144)), resized(image.rgb(), (256, 144), linear=True))
