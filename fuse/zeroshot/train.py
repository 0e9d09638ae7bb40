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

from cinefeat.fuse.device import resolve_device
from cinefeat.fuse.zeroshot.data import SequenceTensors
from cinefeat.fuse.zeroshot.folds import ZeroShotSplit
from cinefeat.fuse.zeroshot.labels import LabelEmbeddings
from cinefeat.fuse.zeroshot.metrics import best_threshold, per_label_ap
from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot, ZeroShotConfig
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


@torch.no_grad()
def predict_scores(
    model: TemporalAttentionZeroShot,
    data: SequenceTensors,
    label_vectors: np.ndarray,
    batch_size: int = 256,
    device: torch.device | None = None,
) -> np.ndarray:
    """p (N, C) for every trailer of `data` and every row of `label_vectors`."""
    device = device or next(model.parameters()).device
    model.eval()
    labels = torch.as_tensor(label_vectors, dtype=torch.float32, device=device)
    out = []
    for inputs, masks, _ in data.batches(batch_size):
        inputs = {f: v.to(device) for f, v in inputs.items()}
        masks = {f: m.to(device) for f, m in masks.items()}
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            out.append(model.score(inputs, masks, labels).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, len(labels)), dtype=np.float32)


def _mean_ap(targets: np.ndarray, scores: np.ndarray, names: list[str]) -> float:
    values = [v for v in per_label_ap(targets, scores, names).values() if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def train_zero_shot(
    data: SequenceTensors,
    split: ZeroShotSplit,
    label_embeddings: LabelEmbeddings,
    model_config: ZeroShotConfig,
    train_config: TrainConfig | None = None,
) -> TrainedZeroShot:
    """Train on split.trailers["train"] x split.labels["train"]; select on the val fold."""
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
    train_labels = torch.as_tensor(label_embeddings.select(split.labels["train"]).vectors)
    val_labels = label_embeddings.select(split.labels["val"]).vectors

    model = TemporalAttentionZeroShot(model_config)
    for feature in model_config.feature_order:
        model.set_normalization(feature, *train.feature_statistics(feature))
    model.set_labels(train_labels, split.labels["train"])
    model.to(device)
    train_labels = train_labels.to(device)
    optimizer = make_optimizer(model.parameters(), config)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")

    best_state, best_score, best_epoch, history = None, -np.inf, -1, []
    for epoch in range(config.epochs):
        model.train()
        total, batches = 0.0, 0
        for inputs, masks, targets in train.batches(config.batch_size, True, generator):
            inputs = {f: v.to(device) for f, v in inputs.items()}
            masks = {f: m.to(device) for f, m in masks.items()}
            with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                scores = model.score(inputs, masks, train_labels)
            loss = warp_loss(scores.float(), targets.to(device), margin=config.margin)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total, batches = total + loss.item(), batches + 1
        val_scores = predict_scores(model, val, val_labels, device=device)
        val_ap = _mean_ap(val.targets.numpy(), val_scores, val.label_names)
        history.append({"epoch": epoch, "loss": total / max(batches, 1), "val_mean_ap": val_ap})
        log.info("epoch %d loss %.4f val mAP %.4f", epoch, total / max(batches, 1), val_ap)
        if val_ap > best_score:
            best_state, best_score, best_epoch = copy.deepcopy(model.state_dict()), val_ap, epoch
        elif epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    threshold = best_threshold(
        val.targets.numpy(), predict_scores(model, val, val_labels, device=device)
    )
    return TrainedZeroShot(model, threshold, best_epoch, history)
