"""`ast`: the Audio Spectrogram Transformer (AudioSet fine-tuned) pooled output per 10.24 s window.

Why: AST (Gong et al. 2021) is the strongest of the AudioSet taggers here and the audio feature of
Cai et al. and Sulun et al.; its pooled 768-d output summarises 10 s of soundtrack.

Weights: `MIT/ast-finetuned-audioset-10-10-0.4593` (BSD-3-Clause) as a Hugging Face directory
(`config.json`, `model.safetensors`, `preprocessor_config.json`), loaded with transformers'
`ASTModel.from_pretrained(dir, use_safetensors=True)` (no pickle) and its `ASTFeatureExtractor`
(Kaldi-style 128-bin log fbank, 1024 frames, AudioSet mean/std). The hub gives no sha256 for
these files, so the first download records them (trust on first use).

Input: 16 kHz mono, 10.24 s windows with 50% overlap (hop 5.12 s, as Cai et al. and Sulun et al.),
the last window zero-padded. Vector: the 768-d pooled output (mean of the CLS and distillation
tokens after the final layer norm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import AudioRequest, BatchExtractor, ExtractorConfig, register_extractor

HF_RESOLVE = "https://huggingface.co/{repo}/resolve/main/{filename}"
REPO = "MIT/ast-finetuned-audioset-10-10-0.4593"
HF_FILES = ("model.safetensors", "config.json", "preprocessor_config.json")

WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="ast-audioset",
        files=tuple(
            pretrained.RemoteFile(name, HF_RESOLVE.format(repo=REPO, filename=name), sha256=None)
            for name in HF_FILES
        ),
        format="hf-transformers-dir",
        licence="BSD-3-Clause (MIT/ast-finetuned-audioset-10-10-0.4593 model card)",
        description="AST fine-tuned on AudioSet (Gong et al. 2021), mAP 0.4593",
        source=f"https://huggingface.co/{REPO}",
        preprocessing={"sample_rate": 16000, "num_mel_bins": 128, "max_length": 1024},
    )
)
WINDOW_S = 10.24


@dataclass
class AstConfig(ExtractorConfig):
    window_s: float = WINDOW_S
    hop_s: float = WINDOW_S / 2
    weights: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.window_s <= WINDOW_S or self.hop_s <= 0:
            raise ValueError(
                f"ast needs 0 < window_s <= {WINDOW_S} s (1024 frames) and hop_s > 0, got "
                f"window_s={self.window_s}, hop_s={self.hop_s}"
            )


@register_extractor
class AstExtractor(BatchExtractor):
    name = "ast"
    kind = "audio"
    config_class = AstConfig
    config: AstConfig

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.model: Any = None
        self.features: Any = None
        self._dim: int = 768
        self._sha256: str | None = None

    @property
    def weights(self) -> str:
        return self.config.weights or WEIGHTS.name

    @property
    def dim(self) -> int:
        return self._dim

    def request(self) -> AudioRequest:
        return AudioRequest(
            sample_rate=16000, window_s=self.config.window_s, hop_s=self.config.hop_s
        )

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        from transformers import ASTFeatureExtractor, ASTModel

        from cinefeat.extract.nets.runtime import place, require_complete

        folder = pretrained.fetch_all(self.weights)
        self._sha256 = pretrained.weights_sha256(self.weights)
        model, info = ASTModel.from_pretrained(
            str(folder), use_safetensors=True, output_loading_info=True
        )
        require_complete(info, folder, "ASTModel")
        self.features = ASTFeatureExtractor.from_pretrained(str(folder))
        self._dim = int(model.config.hidden_size)
        self.model, self.fp16 = place(model, device, fp16)
        self.device = device

    def model_info(self) -> dict[str, Any]:
        return {
            "model": f"transformers ASTModel {REPO}",
            "weights": self.weights,
            "weights_sha256": self._sha256,
            "layer": "pooler_output (mean of CLS and distillation tokens)",
        }

    def extract_batch(self, items: list[np.ndarray]) -> np.ndarray:
        import torch

        from cinefeat.extract.nets.runtime import cast_input

        if self.model is None:
            raise RuntimeError("AstExtractor.load() must be called before extract_batch()")
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = self.features(
            [np.asarray(item, dtype=np.float32) for item in items],
            sampling_rate=16000,
            return_tensors="pt",
        )
        values = inputs["input_values"].to(self.device)
        with torch.inference_mode():
            output = self.model(input_values=cast_input(values, self.model))
        return output.pooler_output.float().cpu().numpy()
