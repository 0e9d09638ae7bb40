"""`audiotag`: the PANNs Cnn14 AudioSet embedding of each 3 s window of the soundtrack.

Why: Cnn14 is trained on AudioSet's 527 sound classes (music genres, speech, explosions, screams,
engines...), which is the mix of sounds a trailer is made of; its 2048-d embedding is the standard
general audio feature (used by the Sulun et al. trailer work as "audiotag").

Weights: `Cnn14_mAP=0.431.pth` from Zenodo record 3987831 (Kong et al. 2020, CC BY 4.0), a
PyTorch checkpoint dict `{"model": state_dict, ...}` loaded with `torch.load(weights_only=True)`
into our own module (`cinefeat.extract.nets.cnn14`). Zenodo publishes an md5, not a sha256, so the
first download records the sha256 (trust on first use).

Input: 32 kHz mono, 3 s windows, hop 3 s (configurable), the last window zero-padded. Vector: the
2048-d embedding; `output="tags"` the 527 probabilities, `"both"` their concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import AudioRequest, BatchExtractor, ExtractorConfig, register_extractor

WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="panns-cnn14",
        files=(
            pretrained.RemoteFile(
                "Cnn14_mAP=0.431.pth",
                "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth?download=1",
                sha256=None,
            ),
        ),
        format="pytorch-checkpoint-dict",
        licence="CC BY 4.0 (Zenodo record 3987831)",
        description="PANNs Cnn14 trained on AudioSet (Kong et al. 2020), mAP 0.431",
        source="https://zenodo.org/record/3987831",
        preprocessing={
            "sample_rate": 32000,
            "n_fft": 1024,
            "hop_length": 320,
            "n_mels": 64,
            "fmin": 50,
            "fmax": 14000,
        },
    )
)
N_CLASSES = 527


@dataclass
class AudiotagConfig(ExtractorConfig):
    window_s: float = 3.0
    hop_s: float = 3.0
    output: Literal["embedding", "tags", "both"] = "embedding"
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.window_s < 0.5 or self.hop_s <= 0:
            raise ValueError(
                f"audiotag needs window_s >= 0.5 s (Cnn14 pools 32x over time) and hop_s > 0, "
                f"got window_s={self.window_s}, hop_s={self.hop_s}"
            )
        if self.output not in ("embedding", "tags", "both"):
            raise ValueError(f"output must be 'embedding', 'tags' or 'both', got {self.output!r}")


@register_extractor
class AudiotagExtractor(BatchExtractor):
    name = "audiotag"
    kind = "audio"
    config_class = AudiotagConfig
    config: AudiotagConfig

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.model: Any = None
        self._sha256: str | None = None

    @property
    def weights(self) -> str:
        return self.config.weights or WEIGHTS.name

    @property
    def dim(self) -> int:
        return {"embedding": 2048, "tags": N_CLASSES, "both": 2048 + N_CLASSES}[self.config.output]

    def request(self) -> AudioRequest:
        return AudioRequest(
            sample_rate=32000, window_s=self.config.window_s, hop_s=self.config.hop_s
        )

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        from cinefeat.extract.nets.cnn14 import FRONT_END_PREFIXES, Cnn14
        from cinefeat.extract.nets.runtime import (
            CheckpointError,
            load_state,
            load_torch_checkpoint,
            place,
        )

        path = pretrained.fetch(self.weights)
        self._sha256 = pretrained.weights_sha256(self.weights)
        checkpoint = load_torch_checkpoint(path, allow_numpy=True)  # sampler state: numpy arrays
        if not isinstance(checkpoint, dict) or "model" not in checkpoint:
            raise CheckpointError(
                f"{path} is not a PANNs checkpoint (expected a dict with a 'model' state dict)"
            )
        model = Cnn14()
        load_state(model, checkpoint["model"], path, ignore_prefixes=FRONT_END_PREFIXES)
        self.model, self.fp16 = place(model, device, fp16)
        self.device = device

    def model_info(self) -> dict[str, Any]:
        layer = {
            "embedding": "fc1 (2048-d embedding)",
            "tags": "527 AudioSet probabilities",
            "both": "fc1 embedding + 527 AudioSet probabilities",
        }[self.config.output]
        return {
            "model": WEIGHTS.description,
            "weights": self.weights,
            "weights_sha256": self._sha256,
            "layer": layer,
        }

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        import torch

        from cinefeat.extract.audio_features import panns_logmel
        from cinefeat.extract.nets.runtime import batch_to_tensor, cast_input

        if self.model is None:
            raise RuntimeError("AudiotagExtractor.load() must be called before extract_batch()")
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            log_mel = panns_logmel(batch_to_tensor(items, self.device))  # fp32 front-end
            embedding, tags = self.model(cast_input(log_mel, self.model))
        parts = {"embedding": [embedding], "tags": [tags], "both": [embedding, tags]}
        return torch.cat(parts[self.config.output], dim=1).float().cpu().numpy()
