"""`vggish`: the VGGish AudioSet embedding of each 0.96 s example of the soundtrack.

Why: VGGish is the audio feature released with AudioSet and YouTube-8M (the visual/audio benchmark
most trailer work compares with), so rows computed here are comparable with those datasets.

Weights: the torchvggish port (harritaylor/torchvggish release v0.1, Apache-2.0):
`vggish-10086976.pth` (state dict) and `vggish_pca_params-970ea276.pth` (PCA), both loaded with
`torch.load(weights_only=True)`. No checksum is published: the hex in the file names is not
shown to be a sha256 prefix (torchvggish loads them through `torch.hub.load_state_dict_from_url`
without `check_hash`), so the first download records the sha256 (trust on first use).

Input: 16 kHz mono examples of 96 frames of 25 ms every 10 ms, i.e. windows of 0.975 s taken every
0.96 s (the 15 ms is the last frame's tail: VGGish frames the signal without padding). Vector: the
128-d raw embedding; `postprocess=True` (`--vggish-postprocess`) applies AudioSet's PCA + 8-bit
quantisation (values 0..255).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import AudioRequest, BatchExtractor, ExtractorConfig, register_extractor

RELEASE = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/{filename}"
MODEL_FILE, PCA_FILE = "vggish-10086976.pth", "vggish_pca_params-970ea276.pth"

WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="vggish",
        files=(
            pretrained.RemoteFile(MODEL_FILE, RELEASE.format(filename=MODEL_FILE), sha256=None),
            pretrained.RemoteFile(PCA_FILE, RELEASE.format(filename=PCA_FILE), sha256=None),
        ),
        format="pytorch-state-dict",
        licence="Apache-2.0 (tensorflow/models audioset; torchvggish port)",
        description="VGGish trained on YouTube-8M/AudioSet (Hershey et al. 2017), torchvggish port",
        source="https://github.com/harritaylor/torchvggish/releases/tag/v0.1",
        preprocessing={
            "sample_rate": 16000,
            "frame_s": 0.025,
            "hop_s": 0.010,
            "n_mels": 64,
            "fmin": 125,
            "fmax": 7500,
            "log_offset": 0.01,
            "example_frames": 96,
        },
    )
)
EXAMPLE_HOP_S = 0.96
EXAMPLE_WINDOW_S = 0.975  # 96 unpadded frames: 0.025 + 95 * 0.010


@dataclass
class VggishConfig(ExtractorConfig):
    hop_s: float = EXAMPLE_HOP_S
    postprocess: bool = False
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.hop_s <= 0:
            raise ValueError(f"hop_s must be > 0 seconds, got {self.hop_s}")


@register_extractor
class VggishExtractor(BatchExtractor):
    name = "vggish"
    kind = "audio"
    config_class = VggishConfig
    config: VggishConfig
    dim = 128  # type: ignore[assignment]

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.model: Any = None
        self.postprocessor: Any = None
        self._sha256: str | None = None

    @property
    def weights(self) -> str:
        return self.config.weights or WEIGHTS.name

    def request(self) -> AudioRequest:
        return AudioRequest(sample_rate=16000, window_s=EXAMPLE_WINDOW_S, hop_s=self.config.hop_s)

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        from cinefeat.extract.nets.runtime import load_state, load_torch_checkpoint, place
        from cinefeat.extract.nets.vggish import VGGish, VGGishPostprocess

        model_path = pretrained.fetch(self.weights, MODEL_FILE)
        self._sha256 = pretrained.weights_sha256(self.weights, MODEL_FILE)
        model = VGGish()
        load_state(model, load_torch_checkpoint(model_path), model_path)
        self.model, self.fp16 = place(model, device, fp16)
        if self.config.postprocess:
            pca_path = pretrained.fetch(self.weights, PCA_FILE)
            pretrained.weights_sha256(self.weights, PCA_FILE)  # checks a recorded hash
            params = load_torch_checkpoint(pca_path, allow_numpy=True)
            self.postprocessor = VGGishPostprocess(
                params["pca_eigen_vectors"], params["pca_means"]
            ).to(device)
        self.device = device

    def model_info(self) -> dict[str, Any]:
        layer = "PCA + 8-bit quantised embedding" if self.config.postprocess else "raw embedding"
        return {
            "model": WEIGHTS.description,
            "weights": self.weights,
            "weights_sha256": self._sha256,
            "layer": layer,
        }

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        import torch

        from cinefeat.extract.audio_features import (
            VGGISH_EXAMPLE_SAMPLES,
            fit_length,
            vggish_logmel,
        )
        from cinefeat.extract.nets.runtime import cast_input

        if self.model is None:
            raise RuntimeError("VggishExtractor.load() must be called before extract_batch()")
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        waves = np.stack([fit_length(item, VGGISH_EXAMPLE_SAMPLES) for item in items])
        with torch.inference_mode():
            log_mel = vggish_logmel(torch.from_numpy(waves).to(self.device))[:, None]  # fp32
            embedding = self.model(cast_input(log_mel, self.model))
            if self.postprocessor is not None:
                embedding = self.postprocessor(embedding)
        return embedding.float().cpu().numpy()
