"""Controlled data for checks and benchmarks: a co-occurrence task and MovieNet-shaped stores.

Co-occurrence task: every step of a sequence carries an "A" symbol and a "B" symbol (one-hot,
plus noise). Every A symbol and every B symbol appears equally often in *every* sequence; only
how they are paired within steps differs. Label c is on when the pair (a_c, b_c) occurs in some
step. The temporal mean is therefore the same for all sequences up to noise, so a head that
averages first (`mlp`) is at chance, while a sequence head can learn the conjunction.

MovieNet-shaped data: per-label frequencies and the labels-per-trailer distribution from the
released label statistics (labels are drawn independently, so genre pairs co-occur by chance
only), sequence lengths capped as in the paper (216 CLIP, 64 OCR, 86 ASR, 140 Audiotag,
18 Musicnet).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cinefeat.fuse.data import PaddedFeatures

PAPER_CAPS = {"clip": 216, "ocr": 64, "asr": 86, "audiotag": 140, "musicnet": 18}
PAPER_DIMS = {"clip": 512, "ocr": 384, "asr": 384, "audiotag": 527, "musicnet": 256}


def cooccurrence_task(
    count: int, length: int = 8, symbols: int = 4, noise: float = 0.1, seed: int = 0
) -> PaddedFeatures:
    if length % symbols:
        raise ValueError("length must be a multiple of symbols, so every symbol is balanced")
    rng = np.random.default_rng(seed)
    pairs = [(c, (c * 2 + 1) % symbols) for c in range(symbols)]
    sequences, labels = [], np.zeros((count, len(pairs)), dtype=np.float32)
    base = np.repeat(np.arange(symbols), length // symbols)
    eye = np.eye(symbols, dtype=np.float32)
    for row in range(count):
        a, b = rng.permutation(base), rng.permutation(base)
        steps = np.concatenate([eye[a], eye[b]], axis=1)
        steps += rng.normal(scale=noise, size=steps.shape).astype(np.float32)
        sequences.append(steps)
        present = set(zip(a.tolist(), b.tolist(), strict=True))
        labels[row] = [pair in present for pair in pairs]
    ids = [f"s{row:05d}" for row in range(count)]
    return PaddedFeatures.from_sequences({"frames": sequences}, labels, ids, {"frames": length})


def movienet_labels(
    stats_path: str | Path, count: int, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """Multi-hot labels with MovieNet's per-label frequencies and labels-per-trailer counts."""
    stats = json.loads(Path(stats_path).read_text())
    names = [name for name, _ in stats["labels_by_frequency"]]
    frequency = np.array([n for _, n in stats["labels_by_frequency"]], dtype=np.float64)
    per_trailer = np.array([[k, n] for k, n in stats["labels_per_trailer"]], dtype=np.float64)
    rng = np.random.default_rng(seed)
    counts = rng.choice(
        per_trailer[:, 0], size=count, p=per_trailer[:, 1] / per_trailer[:, 1].sum()
    )
    labels = np.zeros((count, len(names)), dtype=np.float32)
    for row, k in enumerate(counts.astype(int)):
        if k:
            chosen = rng.choice(
                len(names), size=min(k, len(names)), replace=False, p=frequency / frequency.sum()
            )
            labels[row, chosen] = 1
    return names, labels


def movienet_shaped(
    stats_path: str | Path, count: int, features: dict[str, int] | None = None, seed: int = 0
) -> tuple[list[str], PaddedFeatures]:
    """Random features of MovieNet-like lengths: a duration per trailer drawn around the released
    quartiles (normal with sigma = IQR / 1.349, clipped to the released min..max), each feature's
    length proportional to it (CLIP at ~1 step/s reaches its cap of 216 at the longest trailer);
    text features (OCR, ASR) cover a random fraction of the trailer, as text is not everywhere."""
    stats = json.loads(Path(stats_path).read_text())
    durations_stats = stats["duration_seconds"]
    features = features or PAPER_DIMS
    names, labels = movienet_labels(stats_path, count, seed)
    rng = np.random.default_rng(seed + 1)
    sigma = (durations_stats["q3"] - durations_stats["q1"]) / 1.349
    durations = np.clip(
        rng.normal(durations_stats["median"], sigma, size=count),
        durations_stats["min"],
        durations_stats["max"],
    )
    sequences = {}
    for name, dim in features.items():
        cap = PAPER_CAPS.get(name, 64)
        coverage = rng.random(count) if name in ("ocr", "asr") else np.ones(count)
        lengths = np.round(durations / durations_stats["max"] * cap * coverage).astype(int)
        sequences[name] = [rng.standard_normal((n, dim), dtype=np.float32) for n in lengths]
    ids = [f"m{row:06d}" for row in range(count)]
    caps = {name: PAPER_CAPS.get(name, 64) for name in features}
    return names, PaddedFeatures.from_sequences(sequences, labels, ids, caps)
