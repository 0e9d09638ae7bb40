"""Samplers are pure functions of the timeline: exact indices and spans."""

from __future__ import annotations

import numpy as np
import pytest

from cinefeat.extract.samplers import (
    SAMPLERS,
    Timeline,
    audio_windows,
    create_sampler,
    cut_window,
)


def timeline(n: int, cuts: tuple[int, ...], fps: float = 10.0, hist=None) -> Timeline:
    return Timeline(np.arange(n) / fps, n / fps, cuts, hist)


def test_registry_lists_the_three_frame_samplers() -> None:
    assert sorted(SAMPLERS) == ["every-k", "every-seconds", "scene-middle", "shot-clips"]
    with pytest.raises(KeyError, match="choose from: every-k, every-seconds, scene-middle"):
        create_sampler("nope")


def test_scene_middle_is_the_exact_middle_frame() -> None:
    picks = create_sampler("scene-middle").select(timeline(20, (5, 12)))
    assert [p.indices for p in picks] == [(2,), (8,), (15,)]
    assert [p.span for p in picks] == [(0.0, 0.5), (0.5, 1.2), (1.2, 2.0)]


def test_every_k_default_is_12_with_spans_of_k_frames() -> None:
    picks = create_sampler("every-k").select(timeline(30, ()))
    assert [p.indices[0] for p in picks] == [0, 12, 24]
    assert picks[1].span == (1.2, 2.4) and picks[2].span == (2.4, 3.0)


def test_shot_clips_pad_last_clip_and_never_cross_a_cut() -> None:
    picks = create_sampler("shot-clips", {"frames_per_clip": 4}).select(timeline(10, (6,)))
    assert [p.indices for p in picks] == [(0, 1, 2, 3), (4, 5, 5, 5), (6, 7, 8, 9)]
    assert [p.span for p in picks] == [(0.0, 0.4), (0.4, 0.6), (0.6, 1.0)]


def test_representative_is_closest_to_clip_mean_histogram() -> None:
    hist = np.zeros((4, 2), np.float32)
    hist[:, 0] = [1.0, 0.6, 0.5, 0.0]  # mean 0.525: frame 2 is closest
    hist[:, 1] = 1 - hist[:, 0]
    picks = create_sampler("shot-clips", {"frames_per_clip": 4}).select(timeline(4, (), hist=hist))
    assert picks[0].representative == 2


def test_audio_windows_pad_the_last_and_short_gives_one() -> None:
    windows = audio_windows(n_samples=25, rate=10, window_s=1.0, hop_s=0.5)
    assert [(a, b) for a, b, _ in windows] == [(0, 10), (5, 15), (10, 20), (15, 25)]
    assert windows[-1][2] == (1.5, 2.5)
    short = audio_windows(n_samples=3, rate=10, window_s=1.0, hop_s=1.0)
    assert [(a, b, s) for a, b, s in short] == [(0, 3, (0.0, 0.3))]
    padded = cut_window(np.ones(3, np.float32), 0, 3, 10)
    assert padded.tolist() == [1, 1, 1] + [0] * 7
    assert audio_windows(0, 10, 1.0, 1.0) == []
    with pytest.raises(ValueError, match="window_s > 0"):
        audio_windows(10, 10, 0.0, 1.0)


def test_every_seconds_picks_first_frame_at_each_multiple() -> None:
    times = np.array([0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4])
    picks = create_sampler("every-seconds", {"interval_s": 1.0}).select(Timeline(times, 2.8, ()))
    assert [p.indices[0] for p in picks] == [0, 3, 5]
    assert [p.span for p in picks] == [(0.0, 1.2), (1.2, 2.0), (2.0, 2.8)]
    streaming = create_sampler("every-seconds", {"interval_s": 1.0})
    assert [i for i, t in enumerate(times) if streaming.wants(i, float(t))] == [0, 3, 5]


def test_shot_clips_at_a_target_fps_take_every_other_frame_of_50fps() -> None:
    picks = create_sampler("shot-clips", {"frames_per_clip": 3, "fps": 25}).select(
        timeline(10, (), fps=50.0)
    )
    assert [p.indices for p in picks] == [(0, 2, 4), (6, 8, 8)]
