"""`PretrainedExtractor`: the one base of every extractor that runs a pretrained image or video
network on frames or clips (CLIP, ViT, I3D, the `image` / `video` backbones and their named
features).

Why one base: those extractors differ only in data (which weights entry, which layer, which
mean/std, how an item is cropped or padded) and in how the network is built from its library
(open_clip, transformers, torchvision, timm, our own I3D). What they share is the same in each and
was written five times: the weights name (`config.weights`, a local fine-tune, or the default
entry), fetching it verified and recording its sha256, placing the network on the device in half
precision where native (`nets.runtime.place`), turning a batch of uint8 items into normalised
channels-first floats in the network's dtype, the "load first" and empty-batch rules, and the
provenance fields `model`, `weights`, `weights_sha256`, `layer`. So a subclass says `build()`
(the network, weights loaded), `prepare()` (one item, cropped), `default_weights`, `description`
and `layer`; `forward()` and `normalise()` are there to override (two-stream I3D, CLIP's L2 norm).
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import BatchExtractor, ExtractorConfig


class PretrainedExtractor(BatchExtractor):
    """A network with pretrained weights on frames (`kind = "frames"`) or clips (`"clips"`).

    `mean` / `std` (per RGB channel, on [0, 1] pixels) are set by the subclass, from its weights
    entry, before `extract_batch` runs."""

    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.model: Any = None
        self._sha256: str | None = None

    # what a subclass says -----------------------------------------------------------------
    @property
    @abstractmethod
    def default_weights(self) -> str:
        """The weights table entry used when `config.weights` is not set."""

    @property
    @abstractmethod
    def description(self) -> str:
        """The network and its training data, as recorded in provenance (`model`)."""

    @property
    @abstractmethod
    def layer(self) -> str:
        """Which output is the feature, as recorded in provenance."""

    @abstractmethod
    def build(self) -> Any:
        """The network with `self.weights` loaded (use `fetch_weights`), on the CPU, float32."""

    @abstractmethod
    def prepare(self, item: np.ndarray) -> np.ndarray:
        """One frame (H, W, 3) or clip (T, H, W, 3), uint8, cropped to the network's input."""

    # shared -------------------------------------------------------------------------------
    @property
    def weights(self) -> str:
        return getattr(self.config, "weights", None) or self.default_weights

    @property
    def loaded(self) -> bool:
        return self.model is not None

    def fetch_weights(self, name: str | None = None) -> tuple[Path, str]:
        """(verified local path, sha256) of `name` (default: `self.weights`); the sha256 of
        `self.weights` is what provenance records."""
        name = name or self.weights
        path = pretrained.fetch(name)
        sha256 = pretrained.weights_sha256(name)
        if name == self.weights:
            self._sha256 = sha256
        return path, sha256

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        from cinefeat.extract.nets.runtime import place

        self.model, self.fp16 = place(self.build(), device, fp16)
        self.device = device

    def model_info(self) -> dict[str, Any]:
        return {
            "model": self.description,
            "weights": self.weights,
            "weights_sha256": self._sha256,
            "layer": self.layer,
        }

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        import torch

        if not self.loaded:
            raise RuntimeError(
                f"{type(self).__name__}.load() must be called before extract_batch()"
            )
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = np.stack([self.prepare(item) for item in items])
        with torch.inference_mode():
            out = self.forward(batch)
        return out.float().reshape(len(items), -1).cpu().numpy()

    def forward(self, batch: np.ndarray) -> Any:
        """(B, ...) uint8 batch -> (B, dim) tensor."""
        return self.model(self.pixels(batch, self.model))

    def pixels(self, batch: np.ndarray, model: Any) -> Any:
        """uint8 (B, H, W, 3) -> (B, 3, H, W), or (B, T, H, W, 3) -> (B, 3, T, H, W): normalised
        floats on the device, in `model`'s dtype (half precision where it runs so)."""
        import torch

        from cinefeat.extract.nets.runtime import cast_input

        x = torch.from_numpy(batch).to(self.device)
        x = x.permute(0, 3, 1, 2) if x.ndim == 4 else x.permute(0, 4, 1, 2, 3)
        return cast_input(self.normalise(x), model)

    def normalise(self, x: Any) -> Any:
        """Channels-first uint8 -> (x / 255 - mean) / std."""
        import torch

        shape = (1, 3) + (1,) * (x.ndim - 2)
        mean = torch.tensor(self.mean, device=self.device).view(shape)
        std = torch.tensor(self.std, device=self.device).view(shape)
        return (x.float() / 255.0 - mean) / std
