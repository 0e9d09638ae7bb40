"""Training a zero-shot head on one fold rotation: WARP on train labels, model selection and the
threshold M on the (unseen) validation labels.

Selecting the epoch and M on labels that were never trained on is what makes the test numbers
honest zero-shot numbers: the validation fold plays the part of "new labels" during development.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from cinefeat.fuse.data import PaddedFeatures, fit_normalization, prepare_inputs
from cinefeat.fuse.device import resolve_device
from cinefeat.fuse.heads import FeatureSpec
from cinefeat.fuse.zeroshot.folds import ZeroShotSplit
from cinefeat.fuse.zeroshot.labels import LabelEmbeddings
from cinefeat.fuse.zeroshot.metrics import best_threshold, mean_ap
from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot, ZeroShotConfig
from cinefeat.fuse.zeroshot.rank import predict_scores
from cinefeat.fuse.zeroshot.warp import warp_loss

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Optimisation settings; `device=None` picks CUDA when available (fp16 autocast there)."""

    epochs: int = 40
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    margin: float = 1.0
    patience: int = 10
    seed: int = 0
    device: str | None = None
    optimizer: str = "adamw"
    momentum: float = 0.0


OPTIMIZERS = ("adamw", "sgd")


def make_optimizer(parameters, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (cinefeat's default) or plain SGD (Dogan et al. train with SGD, lr 0.01)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {config.optimizer!r}")


@dataclass
class TrainedZeroShot:
    """The best model (by validation mean AP on unseen labels), its threshold M and the history."""

    model: TemporalAttentionZeroShot
    threshold: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def zero_shot_specs(
    data: PaddedFeatures, max_len: dict[str, int] | None = None
) -> list[FeatureSpec]:
    """The head's features: every feature of `data`, with the length training cut it to (0:
    uncut, every row kept)."""
    lengths = max_len or {}
    return [
        FeatureSpec(name, dim, int(lengths.get(name) or 0))
        for name, dim in data.feature_dims.items()
    ]


def train_zero_shot(
    data: PaddedFeatures,
    split: ZeroShotSplit,
    label_embeddings: LabelEmbeddings,
    model_config: ZeroShotConfig,
    train_config: TrainConfig | None = None,
    max_len: dict[str, int] | None = None,
) -> TrainedZeroShot:
    """Train on split.trailers["train"] x split.labels["train"]; select on the val fold.

    `data` holds every trailer with every label as a named column (`load_labelled`); `max_len`
    is what its sequences were cut to, recorded in the head's `FeatureSpec`s."""
    config = train_config or TrainConfig()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = resolve_device(config.device)
    train = data.take(split.trailers["train"], split.labels["train"])
    val = data.take(split.trailers["val"], split.labels["val"])
    if len(train) == 0 or len(val) == 0:
        raise ValueError(
            f"fold has {len(train)} training and {len(val)} validation trailers: too few trailers "
            "carry labels of a single fold; use more trailers or fewer, broader labels"
        )
    if model_config.label_dim != label_embeddings.dim:
        raise ValueError(
            f"the head's label_dim is {model_config.label_dim} but the label embeddings are "
            f"{label_embeddings.dim}-d: build the config with label_dim={label_embeddings.dim}"
        )
    train_labels = label_embeddings.select(split.labels["train"])
    val_labels = label_embeddings.select(split.labels["val"]).vectors

    model = TemporalAttentionZeroShot(
        model_config, zero_shot_specs(data, max_len), list(split.labels["train"])
    )
    model.normalization = fit_normalization(train)
    model.use_labels(train_labels)
    model.to(device)
    label_vectors = model.label_embeddings
    optimizer = make_optimizer(model.parameters(), config)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")

    best_state, best_score, best_epoch, history = None, -np.inf, -1, []
    for epoch in range(config.epochs):
        model.train()
        total, batches = 0.0, 0
        for inputs, masks, targets in train.batches(config.batch_size, True, generator):
            inputs, masks = prepare_inputs(inputs, masks, model.normalization, device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                scores = model.score(inputs, masks, label_vectors)
            loss = warp_loss(scores.float(), targets.to(device), margin=config.margin)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total, batches = total + loss.item(), batches + 1
        val_scores = predict_scores(model, val, val_labels, device=device)
        val_ap = mean_ap(val.labels.numpy(), val_scores)
        history.append({"epoch": epoch, "loss": total / max(batches, 1), "val_mean_ap": val_ap})
        log.info("epoch %d loss %.4f val mAP %.4f", epoch, total / max(batches, 1), val_ap)
        if val_ap > best_score:
            best_state, best_score, best_epoch = copy.deepcopy(model.state_dict()), val_ap, epoch
        elif epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    threshold = best_threshold(
        val.labels.numpy(), predict_scores(model, val, val_labels, device=device)
    )
    model.set_threshold(threshold)
    return TrainedZeroShot(model, threshold, best_epoch, history)
