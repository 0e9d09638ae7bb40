"""A zero-shot head as a self-describing folder, loadable without the training code.

    model.safetensors              weights, input standardisation, training label embeddings
    config.json                    {"head": "zeroshot", "config": {...}, "threshold": M}
    labels.json                    the training label names
    label_embeddings.safetensors   training labels + the text encoder's provenance
    features.json                  store feature names, their provenance and max lengths

The text encoder's provenance is kept so that prediction can refuse label embeddings from another
text model (the joint space is only meaningful for the encoder it was trained with).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cinefeat.fuse.zeroshot.labels import LabelEmbeddingError, LabelEmbeddings
from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot, ZeroShotConfig
from cinefeat.store.errors import CinefeatError


class ZeroShotCheckpointError(CinefeatError, ValueError):
    """A folder that is not a zero-shot head; the message names the fix."""


@dataclass
class ZeroShotHead:
    """A loaded zero-shot head: model, threshold M and what the caller must feed it."""

    model: TemporalAttentionZeroShot
    threshold: float
    label_embeddings: LabelEmbeddings
    features: dict[str, Any] = field(default_factory=dict)

    def check_encoder(self, candidate: LabelEmbeddings) -> None:
        """Refuse label embeddings whose encoder differs from the one used in training."""
        trained = self.label_embeddings.provenance.get("encoder")
        given = candidate.provenance.get("encoder")
        if trained and given and trained != given:
            raise LabelEmbeddingError(
                f"labels were embedded with {given!r} but this head was trained with "
                f"{trained!r}: embed them with {trained!r}"
            )
        if candidate.dim != self.model.config.label_dim:
            raise LabelEmbeddingError(
                f"label embeddings are {candidate.dim}-d, the head expects "
                f"{self.model.config.label_dim}-d: embed them with {trained or 'the same encoder'}"
            )


def save_zero_shot(
    out_dir: str | Path,
    model: TemporalAttentionZeroShot,
    threshold: float,
    label_embeddings: LabelEmbeddings,
    features: dict[str, Any] | None = None,
) -> Path:
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    config = {"head": "zeroshot", "config": model.config.to_dict(), "threshold": float(threshold)}
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "labels.json").write_text(json.dumps(model.label_names, indent=2))
    label_embeddings.select(model.label_names).save(out / "label_embeddings.safetensors")
    (out / "features.json").write_text(json.dumps(features or {}, indent=2))
    return out


def load_zero_shot(path: str | Path, device: str | torch.device = "cpu") -> ZeroShotHead:
    from safetensors.torch import load_file

    folder = Path(path)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ZeroShotCheckpointError(
            f"{folder} has no config.json: pass the folder written by `cinefeat zeroshot-train`"
        )
    record = json.loads(config_path.read_text())
    if record.get("head") != "zeroshot":
        raise ZeroShotCheckpointError(
            f"{folder} holds a {record.get('head')!r} head, not a zero-shot head: train one with "
            "`cinefeat zeroshot-train`"
        )
    model = TemporalAttentionZeroShot(ZeroShotConfig(**record["config"]))
    state = load_file(str(folder / "model.safetensors"))
    embeddings = LabelEmbeddings.load(folder / "label_embeddings.safetensors")
    model.label_embeddings = torch.zeros_like(state["label_embeddings"])
    model.load_state_dict(state)
    model.set_labels(state["label_embeddings"], json.loads((folder / "labels.json").read_text()))
    model.to(device).eval()
    features_path = folder / "features.json"
    features = json.loads(features_path.read_text()) if features_path.is_file() else {}
    return ZeroShotHead(model, float(record["threshold"]), embeddings, features)
