"""Small bounded containers of the decode pass: recent frames by index, and growing arrays.

Why: scene-dependent samplers (`scene-middle`, `shot-clips`) only know which frame they want once
the scene has ended, a few seconds after that frame went past. Keeping the last `capacity` frames
at each requested size lets most selections be served in the same decode pass, with memory fixed
by `capacity` (not by the trailer's length); selections older than that are fetched by pass 2.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

import numpy as np


class _Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


T = TypeVar("T", bound=_Sized)


class RecentFrames(Generic[T]):
    """The last `capacity` frames per size, keyed by frame index (oldest evicted first).

    A frame is whatever the decoder keeps for it (an array, or a `scaling.FrameImage` whose RGB
    conversion waits until a sampler picks the frame); one object may stand at several sizes."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"frame buffer capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._frames: dict[tuple[int, int], OrderedDict[int, T]] = {}

    def add(self, index: int, size: tuple[int, int], frame: T) -> None:
        if self.capacity == 0:
            return
        frames = self._frames.setdefault(size, OrderedDict())
        frames[index] = frame
        while len(frames) > self.capacity:
            frames.popitem(last=False)

    def get(self, index: int, size: tuple[int, int]) -> T | None:
        return self._frames.get(size, {}).get(index)

    def nbytes(self) -> int:
        """Bytes held (an object standing at several sizes counts once)."""
        unique = {id(f): f for frames in self._frames.values() for f in frames.values()}
        return sum(f.nbytes for f in unique.values())


class GrowingArray:
    """Append rows; `view()` is the filled part without copying (capacity doubles as needed)."""

    def __init__(self, row_shape: tuple[int, ...] = (), dtype: type = np.float64) -> None:
        self._data = np.empty((256, *row_shape), dtype=dtype)
        self._size = 0

    def append(self, row: np.ndarray | float) -> None:
        if self._size == len(self._data):
            grown = np.empty((2 * len(self._data), *self._data.shape[1:]), self._data.dtype)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size] = row
        self._size += 1

    def view(self) -> np.ndarray:
        return self._data[: self._size]

    def __len__(self) -> int:
        return self._size
