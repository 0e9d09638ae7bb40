"""Contrastive fine-tuning of a trained head's trailer embedding (after Fish et al.).

The genre head's embedding (the layer before its classifier) already groups trailers by genre;
NT-Xent on the two halves of each trailer refines it towards *what this trailer is like*, which is
what similarity search wants. As in SimCLR the loss is computed after a small projection MLP that
is thrown away afterwards: the projection absorbs the invariances the loss forces, so the
embedding below it keeps more information. Only `head.embed` is trained; the classifier is left
as it was (its outputs may drift: re-evaluate the head if you also predict with it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from cinefeat.fuse.data import prepare_inputs
from cinefeat.fuse.device import resolve_device
from cinefeat.fuse.heads import Head
from cinefeat.fuse.similarity.ntxent import nt_xent
from cinefeat.fuse.similarity.views import split_halves

log = logging.getLogger(__name__)


class Batches(Protocol):
    """Padded trailers that yield (inputs, masks, labels) batches (`PaddedFeatures`, ...)."""

    def __len__(self) -> int: ...

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[dict[str, Tensor], dict[str, Tensor], Tensor]]: ...


@dataclass
class ContrastiveConfig:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 1e-4
    temperature: float = 0.5
    projection_dim: int = 128
    seed: int = 0
    device: str | None = None


class ProjectionMLP(nn.Module):
    """Linear-ReLU-Linear on top of the embedding, used only while fine-tuning."""

    def __init__(self, embed_dim: int, projection_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(embed_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, projection_dim)
        )

    def forward(self, embedding: Tensor) -> Tensor:
        return self.layers(embedding)


@torch.no_grad()
def embed_all(
    head: Head, data: Batches, batch_size: int = 256, device: str | None = None
) -> np.ndarray:
    """head.embed for every trailer of `data`: (N, D) float32, in `data.ids` order.

    Inputs are standardised with the head's own statistics and padding is zeroed, exactly as
    at prediction time.
    """
    target = resolve_device(device) if device else next(iter(head.parameters())).device
    head.to(target)
    head.eval()
    chunks = []
    for inputs, masks, _ in data.batches(batch_size):
        inputs, masks = prepare_inputs(inputs, masks, head.normalization, target)
        with torch.autocast(target.type, dtype=torch.float16, enabled=target.type == "cuda"):
            chunks.append(head.embed(inputs, masks).float().cpu())
    return torch.cat(chunks).numpy()


def contrastive_finetune(
    head: Head, data: Batches, config: ContrastiveConfig | None = None
) -> list[float]:
    """Fine-tune `head.embed` in place with NT-Xent on trailer halves; the loss per epoch."""
    config = config or ContrastiveConfig()
    if len(data) < 2:
        raise ValueError("contrastive fine-tuning needs at least 2 trailers (negatives)")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = resolve_device(config.device)
    head.to(device)
    normalization = head.normalization
    probe_inputs, probe_masks, _ = next(data.batches(2))
    with torch.no_grad():
        embed_dim = head.embed(*prepare_inputs(probe_inputs, probe_masks, normalization, device))
        embed_dim = embed_dim.shape[1]
    projection = ProjectionMLP(embed_dim, config.projection_dim).to(device)
    parameters = list(head.parameters()) + list(projection.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    history = []
    for epoch in range(config.epochs):
        head.train()
        projection.train()
        total, batches = 0.0, 0
        for inputs, masks, _ in data.batches(config.batch_size, True, generator):
            if len(next(iter(inputs.values()))) < 2:
                continue  # a last batch of one trailer has no negative
            views = [
                prepare_inputs(view_inputs, view_masks, normalization, device)
                for view_inputs, view_masks in split_halves(inputs, masks)
            ]
            with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                first, second = (projection(head.embed(*view)) for view in views)
            loss = nt_xent(first, second, config.temperature)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total, batches = total + loss.item(), batches + 1
        history.append(total / max(batches, 1))
        log.info("contrastive epoch %d NT-Xent %.4f", epoch, history[-1])
    head.eval()
    return history
