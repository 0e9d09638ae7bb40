"""`audiotag`: the PANNs Cnn14 AudioSet embedding of each 3 s window of the soundtrack.

Why: Cnn14 is trained on AudioSet's 527 sound classes (music genres, speech, explosions, screams,
engines...), which is the mix of sounds a trailer is made of. Two models (`model=`):

- `cnn14` (default): `Cnn14_mAP=0.431.pth`, the 2048-d `fc1` embedding, the standard general
  audio feature of PANNs (the best tagger of the record).
- `cnn14-emb128`: `CNN14_emb128_mAP=0.412.pth`, PANNs' `Cnn14_emb128`, whose 128-d `fc1` output is
  the feature of Sulun et al. ("prior to the final classification layer ... a length of 128" per
  3 s chunk): the paper's setting (`--option audiotag.model=cnn14-emb128`).

Weights: Zenodo record 3987831 (Kong et al. 2020, CC BY 4.0). Each file is the authors' training
checkpoint `{'iteration', 'model', 'sampler'}` (qiuqiangkong/audioset_tagging_cnn,
`pytorch/main.py`), whose sampler state holds numpy arrays; it is read with the restricted
unpickler (`load_torch_checkpoint(allow_numpy=True)`) and only `model` is kept, loaded into our own
module (`cinefeat.extract.nets.cnn14`). Zenodo publishes an md5, not a sha256: a download must
match the md5 Zenodo lists for `Cnn14_mAP=0.431.pth` before it enters the cache, and its sha256 is
then recorded. (The md5 of the emb128 file is not known here, so that entry relies on the recorded
sha256 and the format checks alone.)

Input: 32 kHz mono, 3 s windows, hop 3 s (configurable), the last window zero-padded. Vector: the
embedding (2048-d or 128-d); `output="tags"` the 527 probabilities, `"both"` their concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from cinefeat.extract import pretrained
from cinefeat.extract.base import AudioRequest, BatchExtractor, ExtractorConfig, register_extractor

PREPROCESSING = {
    "sample_rate": 32000,
    "n_fft": 1024,
    "hop_length": 320,
    "n_mels": 64,
    "fmin": 50,
    "fmax": 14000,
}
ZENODO = "https://zenodo.org/record/3987831/files/{quoted}?download=1"


def _panns_entry(
    name: str, filename: str, description: str, md5: str | None = None
) -> pretrained.PretrainedWeights:
    return pretrained.register_weights(
        pretrained.PretrainedWeights(
            name=name,
            files=(
                pretrained.RemoteFile(
                    filename,
                    ZENODO.format(quoted=filename.replace("=", "%3D")),
                    sha256=None,
                    md5=md5,
                ),
            ),
            format="pytorch-checkpoint-dict",
            licence="CC BY 4.0 (Zenodo record 3987831)",
            description=description,
            source="https://zenodo.org/record/3987831",
            preprocessing=PREPROCESSING,
        )
    )


WEIGHTS = _panns_entry(
    "panns-cnn14",
    "Cnn14_mAP=0.431.pth",
    "PANNs Cnn14 trained on AudioSet (Kong et al. 2020), mAP 0.431",
    md5="541141fa2ee191a88f24a3219fff024e",  # Zenodo record 3987831's file listing
)
# The upper-case "CNN14" is how the file is named on Zenodo (wget URLs of users of the record
# spell it so, while its siblings are "Cnn14_emb512_..." and "Cnn14_emb32_...").
WEIGHTS_EMB128 = _panns_entry(
    "panns-cnn14-emb128",
    "CNN14_emb128_mAP=0.412.pth",
    "PANNs Cnn14_emb128 trained on AudioSet (Kong et al. 2020), mAP 0.412, 128-d embedding "
    "(the feature of Sulun et al.)",
)
MODELS = {"cnn14": WEIGHTS, "cnn14-emb128": WEIGHTS_EMB128}
"""`model=` choices -> weights entry; the network is Cnn14 with `fc1` as wide as the file's."""
EMBEDDING_DIMS = {"cnn14": 2048, "cnn14-emb128": 128}
N_CLASSES = 527


@dataclass
class AudiotagConfig(ExtractorConfig):
    window_s: float = 3.0
    hop_s: float = 3.0
    output: Literal["embedding", "tags", "both"] = "embedding"
    model: Literal["cnn14", "cnn14-emb128"] = "cnn14"
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.window_s < 0.5 or self.hop_s <= 0:
            raise ValueError(
                f"audiotag needs window_s >= 0.5 s (Cnn14 pools 32x over time) and hop_s > 0, "
                f"got window_s={self.window_s}, hop_s={self.hop_s}"
            )
        if self.output not in ("embedding", "tags", "both"):
            raise ValueError(f"output must be 'embedding', 'tags' or 'both', got {self.output!r}")
        if self.model not in MODELS:
            raise ValueError(
                f"audiotag model must be one of {', '.join(MODELS)} "
                f"(cnn14-emb128 is the paper's 128-d feature), got {self.model!r}"
            )


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
        return self.config.weights or MODELS[self.config.model].name

    @property
    def embedding_dim(self) -> int:
        return EMBEDDING_DIMS[self.config.model]

    @property
    def dim(self) -> int:
        width = self.embedding_dim
        return {"embedding": width, "tags": N_CLASSES, "both": width + N_CLASSES}[
            self.config.output
        ]

    def request(self) -> AudioRequest:
        return AudioRequest(
            sample_rate=32000, window_s=self.config.window_s, hop_s=self.config.hop_s
        )

    def load(self, device: str = "cpu", fp16: bool = False) -> None:
        from cinefeat.extract.nets.cnn14 import FRONT_END_PREFIXES, Cnn14, Cnn14Emb128, fc1_width
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
        state = checkpoint["model"]  # `iteration`, `sampler`, `optimizer` are training state
        width = fc1_width(state)
        if width is not None and width != self.embedding_dim:
            other = {v: k for k, v in EMBEDDING_DIMS.items()}.get(width, f"a {width}-d variant")
            raise CheckpointError(
                f"{path} has a {width}-d fc1 ({other}), but audiotag model={self.config.model} "
                f"needs {self.embedding_dim}-d; choose `--option audiotag.model=...` to match "
                f"the file, or run `cinefeat models download {MODELS[self.config.model].name}`"
            )
        model = Cnn14Emb128() if self.config.model == "cnn14-emb128" else Cnn14()
        load_state(model, state, path, ignore_prefixes=FRONT_END_PREFIXES)
        self.model, self.fp16 = place(model, device, fp16)
        self.device = device

    def model_info(self) -> dict[str, Any]:
        width = self.embedding_dim
        layer = {
            "embedding": f"fc1 ({width}-d embedding)",
            "tags": "527 AudioSet probabilities",
            "both": f"fc1 ({width}-d embedding) + 527 AudioSet probabilities",
        }[self.config.output]
        return {
            "model": MODELS[self.config.model].description,
            "architecture": "Cnn14_emb128" if self.config.model == "cnn14-emb128" else "Cnn14",
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
