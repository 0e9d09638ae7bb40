"""`musicnet`: the Choi et al. (ISMIR 2016) MusicTaggerCNN feature of each 29.12 s music window.

Why: the "Musicnet" feature of the Sulun et al. trailer-genre work; a music auto-tagger trained on
the Million Song Dataset's 50 last.fm tags (rock, jazz, ambient, ...) describes the score of a
trailer, which carries genre (horror drones, comedy pop, action percussion).

Weights: the authors' published Keras 1.x file, converted on load with h5py
(`cinefeat.extract.keras_h5`, `cinefeat.extract.nets.choi`); MIT licence. Input: 12 kHz mono,
windows of 29.12 s (1366 frames) with a configurable hop (default 29.12 s), the last window
zero-padded (so a short trailer gives one row). Vector: the 256-d flattened last conv block
(the file's shapes decide; the 64-d of the Sulun et al. paper does not come from these weights);
`output="tags"` stores the 50 tag probabilities instead, `"both"` their concatenation (256 + 50).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import AudioRequest, BatchExtractor, ExtractorConfig, register_extractor

CHOI_REPO_RAW = (
    "https://raw.githubusercontent.com/keunwoochoi/music-auto_tagging-keras/"
    "a3e105d0c4c529c512cc197ad8770ff1cc52aa32/data/{filename}"
)
CHOI_LICENCE = "MIT (keunwoochoi/music-auto_tagging-keras, LICENSE-weights-MIT.md)"
CHOI_PREPROCESSING = {
    "sample_rate": 12000,
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "frames": 1366,
    "log": "10*log10(mel_power**2), 80 dB range",
}
WINDOW_S = 29.12
N_TAGS = 50

CNN_WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="choi2016-music-tagger-cnn",
        files=(
            pretrained.RemoteFile(
                "music_tagger_cnn_weights_tensorflow.h5",
                CHOI_REPO_RAW.format(filename="music_tagger_cnn_weights_tensorflow.h5"),
                sha256="8b61b73a8065cb084a9b56e8b5421ee876f38a1aca109ec2ad336e3a17c7c421",
                size=3_523_472,
            ),
        ),
        format="keras1-h5",
        licence=CHOI_LICENCE,
        description="Choi, Fazekas & Sandler 2016 MusicTaggerCNN (MSD, 50 last.fm tags)",
        source="github.com/keunwoochoi/music-auto_tagging-keras @ a3e105d",
        preprocessing=CHOI_PREPROCESSING,
    )
)

Output = Literal["embedding", "tags", "both"]


@dataclass
class ChoiConfig(ExtractorConfig):
    hop_s: float = WINDOW_S
    output: Output = "embedding"
    weights: str | None = None  # registry name; default: the published file of this model

    def __post_init__(self) -> None:
        if self.hop_s <= 0:
            raise ValueError(f"hop_s must be > 0 seconds, got {self.hop_s}")
        if self.output not in ("embedding", "tags", "both"):
            raise ValueError(f"output must be 'embedding', 'tags' or 'both', got {self.output!r}")


class ChoiTaggerExtractor(BatchExtractor):
    """Shared part of the two Choi taggers: windows, front-end, batching, output choice."""

    kind = "audio"
    config_class = ChoiConfig
    config: ChoiConfig
    default_weights: ClassVar[pretrained.PretrainedWeights]
    feature_dim: ClassVar[int]
    layer: ClassVar[str]

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.model: Any = None
        self._sha256: str | None = None

    @property
    def weights(self) -> str:
        return self.config.weights or self.default_weights.name

    @property
    def dim(self) -> int:
        return {"embedding": self.feature_dim, "tags": N_TAGS, "both": self.feature_dim + N_TAGS}[
            self.config.output
        ]

    def request(self) -> AudioRequest:
        return AudioRequest(sample_rate=12000, window_s=WINDOW_S, hop_s=self.config.hop_s)

    @abstractmethod
    def build(self, path: str) -> Any:
        """The model with the weights of the Keras file at `path` (CPU, eval mode)."""

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        from cinefeat.extract.nets.runtime import place

        path = pretrained.fetch(self.weights)
        self._sha256 = pretrained.weights_sha256(self.weights)
        self.model, self.fp16 = place(self.build(str(path)), device, fp16)
        self.device = device

    def model_info(self) -> dict[str, Any]:
        layer = {
            "embedding": self.layer,
            "tags": "50 sigmoid tag probabilities",
            "both": f"{self.layer} + 50 tag probabilities",
        }[self.config.output]
        return {
            "model": self.default_weights.description,
            "weights": self.weights,
            "weights_sha256": self._sha256,
            "layer": layer,
        }

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        import torch

        from cinefeat.extract.audio_features import CHOI_WINDOW_SAMPLES, choi_melgram, fit_length
        from cinefeat.extract.nets.runtime import cast_input

        if self.model is None:
            raise RuntimeError(
                f"{type(self).__name__}.load() must be called before extract_batch()"
            )
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        waves = np.stack([fit_length(item, CHOI_WINDOW_SAMPLES) for item in items])
        with torch.inference_mode():
            mel = choi_melgram(torch.from_numpy(waves).to(self.device))  # fp32 front-end
            feature, tags = self.model(cast_input(mel, self.model))
        parts = {"embedding": [feature], "tags": [tags], "both": [feature, tags]}
        return torch.cat(parts[self.config.output], dim=1).float().cpu().numpy()


@register_extractor
class MusicnetExtractor(ChoiTaggerExtractor):
    name = "musicnet"
    default_weights = CNN_WEIGHTS
    feature_dim = 256
    layer = "flattened conv5 block (256-d, before the 50-tag output)"

    def build(self, path: str) -> Any:
        from cinefeat.extract.nets.choi import load_cnn

        return load_cnn(path)
