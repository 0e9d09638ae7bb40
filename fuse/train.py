"""The training loop shared by every head: stages, early stopping, checkpoints, resume.

Defaults are the Sulun et al. paper's: Adam, lr 1e-5, batch 32, gradient clipping at norm 1,
BCE-with-logits with a positive-label weight of 0.25 (it matched MovieNet's precision/recall
balance), early stopping on validation macro AP. On CUDA the forward runs under fp16 autocast
with a gradient scaler; on CPU the same seed gives the same metrics.

Training never reports a number it did not compute: a NaN/inf input stops the run before the
first step, a non-finite loss or gradient stops it at that step, each with an error naming the
feature (where one is to blame), the trailers of the batch and the epoch. `history.json` is
valid JSON (undefined metrics are null).

Layout of `out_dir`: the best head (a `from_pretrained` folder) at the top, `history.json`, and
`checkpoints/last/` (+ `trainer_state.pt`) after every epoch for `--resume`.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cinefeat.fuse.data import DataError, PaddedFeatures, prefetch, prepare_inputs
from cinefeat.fuse.heads import Head
from cinefeat.fuse.jsonout import json_text
from cinefeat.fuse.metrics import macro_ap
from cinefeat.fuse.predict import predict_padded
from cinefeat.store.console import progress

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"


class TrainingError(ValueError):
    """A training run that cannot start or resume; the message names the fix."""


class NonFiniteTrainingError(TrainingError):
    """A NaN/inf input, loss or gradient; the message names the feature, trailers and epoch."""


@dataclass
class TrainConfig:
    epochs: int = 50
    lr: float = 1e-5
    batch_size: int = 32
    optimizer: str = "adam"  # or "adamw"
    weight_decay: float = 0.0
    clip_norm: float = 1.0
    pos_weight: float = 0.25
    patience: int = 10
    seed: int = 0
    device: str = "auto"
    amp: bool = True


@dataclass
class TrainResult:
    best_val_ap: float
    best_epoch: dict[str, int]
    history: list[dict[str, Any]] = field(default_factory=list)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            f"--device {name} asked for, but CUDA is not available; use --device cpu"
        )
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def predict_proba(head: Head, data: PaddedFeatures, batch_size: int = 64) -> np.ndarray:
    """Probabilities (N, C) of `head` on `data`: `cinefeat.fuse.predict.predict_padded`, the one
    scoring path shared with `evaluate` and `predict`."""
    return predict_padded(head, data, batch_size)


def _optimizer(head: Head, config: TrainConfig) -> torch.optim.Optimizer:
    parameters = [p for p in head.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    raise TrainingError(f"unknown optimizer {config.optimizer!r}; use adam or adamw")


class Trainer:
    """Runs `head.stages` in order; each stage trains until `patience` epochs without a better
    validation macro AP (equal AP with a lower validation loss counts as better), then restores
    its best weights."""

    def __init__(
        self,
        head: Head,
        train: PaddedFeatures,
        val: PaddedFeatures | None,
        config: TrainConfig,
        out_dir: str | Path | None = None,
    ):
        if len(train) == 0:
            raise TrainingError("the training split is empty; check --split / the store's splits")
        self.head, self.train_data, self.val_data, self.config = head, train, val, config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.device = resolve_device(config.device)
        self.amp = config.amp and self.device.type == "cuda"
        self.generator = torch.Generator().manual_seed(config.seed)
        self.history: list[dict[str, Any]] = []
        self.best_epoch: dict[str, int] = {}
        self.best_val_ap = float("-inf")
        weight = torch.full((head.num_labels,), config.pos_weight, device=self.device)
        self.criterion = nn.BCEWithLogitsLoss(pos_weight=weight)
        # Step time split into data (batch gather + transfer) and compute, for the benchmark.
        self.data_seconds = 0.0
        self.step_seconds = 0.0

    # --- one epoch ------------------------------------------------------------------------
    def _batch_ids(self, index: torch.Tensor, limit: int = 3) -> str:
        ids = [self.train_data.ids[i] for i in index.tolist()]
        more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
        return ", ".join(repr(t) for t in ids[:limit]) + more

    def _non_finite_step(
        self, what: str, epoch: int, stage: str, index: torch.Tensor, inputs: dict[str, Any]
    ) -> NonFiniteTrainingError:
        """The error for a non-finite loss or gradient, blaming an input feature if one is."""
        for name, x in inputs.items():
            rows = torch.nonzero(~torch.isfinite(x.flatten(1)).all(dim=1)).flatten().tolist()
            if rows:
                trailer = self.train_data.ids[int(index[rows[0]])]
                return NonFiniteTrainingError(
                    f"{what} is not finite at epoch {epoch} ({stage}): standardised feature "
                    f"{name!r} of trailer {trailer!r} is not finite (its values overflow float32 "
                    "after standardisation); check that feature's rows"
                )
        return NonFiniteTrainingError(
            f"{what} is not finite at epoch {epoch} ({stage}) on the batch of trailers "
            f"{self._batch_ids(index)}, from finite inputs: lower --lr, keep --clip-norm, or "
            "check the labels of those trailers"
        )

    def _train_epoch(
        self,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        epoch: int = 0,
        stage: str = "train",
    ) -> float:
        head = self.head
        head.train()
        total, batches = 0.0, 0
        stream = prefetch(
            self.train_data.indexed_batches(
                self.config.batch_size, shuffle=True, generator=self.generator
            ),
            pin=self.device.type == "cuda",
        )
        clock = time.perf_counter()
        for index, inputs, masks, labels in stream:
            # the data loader's share: time this step waited for the next host batch
            data_done = time.perf_counter()
            inputs, masks = prepare_inputs(inputs, masks, head.normalization, self.device)
            inputs, masks = head.training_view(inputs, masks, self.generator)
            labels = labels.to(self.device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                loss = head.loss(inputs, masks, labels, self.criterion)
            value = float(loss.detach())
            if not np.isfinite(value):
                raise self._non_finite_step("the loss", epoch, stage, index, inputs)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            norm = nn.utils.clip_grad_norm_(head.parameters(), self.config.clip_norm)
            # under fp16 autocast an overflowing gradient is expected now and then: the scaler
            # skips that step and halves its scale (from 2^16); in float32, or once the scale
            # has fallen below 1 (16+ overflows in a row), it is an error
            if not torch.isfinite(norm) and (not self.amp or scaler.get_scale() < 1.0):
                raise self._non_finite_step("the gradient", epoch, stage, index, inputs)
            scaler.step(optimizer)
            scaler.update()
            total += value
            batches += 1
            now = time.perf_counter()
            self.data_seconds += data_done - clock
            self.step_seconds += now - clock
            clock = now
        return total / max(batches, 1)

    def _validate(self, epoch: int = 0, stage: str = "train") -> tuple[float, float]:
        """(macro AP, binary cross-entropy) on the validation split; NaNs without one.

        The loss breaks ties of AP: on a small validation split AP saturates (often at 1.0) after
        a few epochs, and keeping the first of equal APs would keep an undertrained head.
        """
        if self.val_data is None or len(self.val_data) == 0:
            return float("nan"), float("nan")
        try:
            scores = predict_proba(self.head, self.val_data, max(self.config.batch_size, 64))
        except DataError as error:
            raise NonFiniteTrainingError(
                f"validation after epoch {epoch} ({stage}) failed: {error}"
            ) from error
        labels = self.val_data.labels.numpy()
        p = np.clip(scores.astype(np.float64), 1e-7, 1 - 1e-7)
        loss = float(-(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean())
        return macro_ap(labels, scores), loss

    # --- checkpoints ----------------------------------------------------------------------
    def _save_state(self, stage_index: int, epoch: int, optimizer, stall: int, best_state) -> None:
        if self.out_dir is None:
            return
        last = self.out_dir / "checkpoints" / "last"
        self.head.save_pretrained(last)
        state = {
            "stage_index": stage_index,
            "epoch": epoch,
            "stall": stall,
            "best_val_ap": self.best_val_ap,
            "stage_best": self._stage_best,
            "stage_best_loss": self._stage_best_loss,
            "best_epoch": json.dumps(self.best_epoch),
            "history": json.dumps(self.history),  # internal state, read back by json.loads
            "optimizer": optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),  # dropout masks: needed for an exact resume
            "best_state": best_state,
        }
        torch.save(state, last / STATE_FILE)

    def _load_state(self) -> dict[str, Any] | None:
        if self.out_dir is None:
            raise TrainingError("resume needs an output folder (--out) holding checkpoints/last")
        path = self.out_dir / "checkpoints" / "last" / STATE_FILE
        if not path.is_file():
            raise TrainingError(f"nothing to resume: {path} does not exist; train without --resume")
        from safetensors.torch import load_file

        state = torch.load(path, map_location="cpu", weights_only=True)
        weights = load_file(str(self.out_dir / "checkpoints" / "last" / "model.safetensors"))
        self.head.load_state_dict(weights)
        return state

    # --- the run --------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        for name, data in (("training", self.train_data), ("validation", self.val_data)):
            if data is not None:
                try:
                    data.require_finite(f"training stopped before epoch 0 ({name} split)")
                except DataError as error:
                    raise NonFiniteTrainingError(str(error)) from error
        seed_everything(self.config.seed)
        head = self.head.to(self.device)
        state = self._load_state() if resume else None
        start_stage = state["stage_index"] if state else 0
        for stage_index, stage in enumerate(head.stages):
            if stage_index < start_stage:
                continue
            head.begin_stage(stage)
            optimizer = _optimizer(head, self.config)
            scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
            first_epoch, stall, best_state = 0, 0, None
            self._stage_best, self._stage_best_loss = float("-inf"), float("inf")
            if state and stage_index == start_stage:
                optimizer.load_state_dict(state["optimizer"])
                self.generator.set_state(state["generator"])
                torch.set_rng_state(state["torch_rng"])
                first_epoch, stall = state["epoch"] + 1, state["stall"]
                self.best_val_ap, self._stage_best = state["best_val_ap"], state["stage_best"]
                self._stage_best_loss = state.get("stage_best_loss", float("inf"))
                self.history = json.loads(state["history"])
                self.best_epoch = json.loads(state["best_epoch"])
                best_state = state["best_state"]
                if stall >= self.config.patience:
                    first_epoch = self.config.epochs  # that stage had already stopped early
            bar = progress(range(first_epoch, self.config.epochs), desc=f"{head.name}:{stage}")
            for epoch in bar:
                loss = self._train_epoch(optimizer, scaler, epoch, stage)
                val_ap, val_loss = self._validate(epoch, stage)
                improved = (
                    np.isnan(val_ap)
                    or val_ap > self._stage_best
                    or (val_ap == self._stage_best and val_loss < self._stage_best_loss)
                )
                if improved:
                    if not np.isnan(val_ap):
                        self._stage_best, self._stage_best_loss = val_ap, val_loss
                    best_state = {k: v.detach().cpu().clone() for k, v in head.state_dict().items()}
                    self.best_epoch[stage] = epoch
                    stall = 0
                else:
                    stall += 1
                self.history.append(
                    {
                        "stage": stage,
                        "epoch": epoch,
                        "loss": loss,
                        "val_ap": val_ap,
                        "val_loss": val_loss,
                    }
                )
                bar.set_postfix(loss=f"{loss:.4f}", val_mAP=f"{val_ap:.4f}")
                self._save_state(stage_index, epoch, optimizer, stall, best_state)
                if stall >= self.config.patience:
                    log.info(
                        "%s: early stop at epoch %d (best %d)", stage, epoch, self.best_epoch[stage]
                    )
                    break
            if best_state is not None:
                head.load_state_dict(best_state)
            self.best_val_ap = self._stage_best
        head.eval()
        if self.out_dir is not None:
            head.save_pretrained(self.out_dir)
            summary = {
                "config": asdict(self.config),
                "best_val_ap": self.best_val_ap,
                "best_epoch": self.best_epoch,
                "history": self.history,
            }
            (self.out_dir / "history.json").write_text(json_text(summary))
        return TrainResult(self.best_val_ap, dict(self.best_epoch), list(self.history))


def fit(
    head: Head,
    train: PaddedFeatures,
    val: PaddedFeatures | None,
    config: TrainConfig,
    out_dir: str | Path | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train `head` (in place) and return its history; see `Trainer`."""
    return Trainer(head, train, val, config, out_dir).fit(resume=resume)
