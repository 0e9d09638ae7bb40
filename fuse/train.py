"""The training loop shared by every head: stages, early stopping, checkpoints, resume.

Defaults are the Sulun et al. paper's: Adam, lr 1e-5, batch 32, gradient clipping at norm 1,
BCE-with-logits with a positive-label weight of 0.25 (it matched MovieNet's precision/recall
balance), early stopping on validation macro AP. On CUDA the forward runs under fp16 autocast
with a gradient scaler; on CPU the same seed gives the same metrics.

Training never reports a number it did not compute: a NaN/inf input stops the run before the
first step, a non-finite loss or gradient stops it at that step, each with an error naming the
feature (where one is to blame), the trailers of the batch and the epoch. `history.json` is
valid JSON (undefined metrics are null).

Training options of the papers (see docs/training.md): learning-rate schedules per epoch
(`cosine`, `step`, `plateau`, each after an optional linear warm-up), AMSGrad, the selection
metric (`--select-by`: validation macro AP, validation loss as DIViTA, or Cai et al.'s sum of the
micro, macro and weighted trapezoid AU(PRC)s), per-class positive weights from label
frequencies (`pos_weight="frequency"`), and the training-time crop recorded in the head config.

Layout of `out_dir`: the best head (a `from_pretrained` folder) at the top, `history.json`, and
`checkpoints/last/` (+ `trainer_state.pt`) after every epoch for `--resume`.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cinefeat.fuse.data import DataError, PaddedFeatures, prefetch, prepare_inputs
from cinefeat.fuse.device import resolve_device
from cinefeat.fuse.heads import Head
from cinefeat.fuse.metrics import evaluate, macro_ap
from cinefeat.fuse.predict import predict_padded
from cinefeat.store.console import progress
from cinefeat.store.errors import CinefeatError
from cinefeat.store.jsonout import json_text

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"

SCHEDULES = ("none", "cosine", "step", "plateau")
SELECT_BY = ("ap_macro", "loss", "auprc_sum")
# The small-data recipe of docs/bench-heads.md (MULAN emotions: 391 training clips), which
# `cinefeat train` suggests when the best epoch is the last one (the run had not converged).
SMALL_DATA_RECIPE = (
    "--optimizer adamw --lr 1e-3 --weight-decay 1e-4 --pos-weight 1 --epochs 300 --patience 30"
)


class TrainingError(CinefeatError, ValueError):
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
    amsgrad: bool = False
    clip_norm: float = 1.0
    pos_weight: float | str = 0.25  # a number for every label, or "frequency": negatives/positives
    patience: int = 10
    schedule: str = "none"  # SCHEDULES; set per epoch, after `warmup_epochs` of linear warm-up
    warmup_epochs: int = 0
    step_size: int = 10  # step: multiply the lr by `gamma` every `step_size` epochs
    gamma: float = 0.1  # step and plateau factor
    plateau_patience: int = 3  # plateau: epochs without a better selection score per cut
    select_by: str = "ap_macro"  # SELECT_BY: the validation score that picks the best epoch
    # cinefeat.fuse.ensemble: retrain on train + val for the selected number of epochs, and
    # the number of seeds whose probabilities the saved head averages
    refit: bool = False
    ensemble: int = 1
    # cinefeat.fuse.bagging: each member on a bootstrap sample of the training rows, and on this
    # share of every feature's columns (1.0: all of them)
    bootstrap: bool = False
    subspace: float = 1.0
    seed: int = 0
    device: str = "auto"
    amp: bool = True


@dataclass
class TrainResult:
    best_val_ap: float  # validation macro AP of the selected epoch (whatever `select_by` is)
    best_epoch: dict[str, int]
    history: list[dict[str, Any]] = field(default_factory=list)
    select_by: str = "ap_macro"
    best_score: float = float("nan")  # the `select_by` value of the selected epoch
    epochs: int = 0  # epochs allowed per stage
    recipe: dict[str, Any] = field(default_factory=dict)  # refit / ensemble (fuse.ensemble)

    @property
    def best_is_last(self) -> bool:
        """The best epoch is the last allowed one of a stage: the head had not stopped improving
        (issue 17: best epoch 49 of 50 on small data with the MovieNet defaults)."""
        return self.epochs > 1 and any(e == self.epochs - 1 for e in self.best_epoch.values())


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
    options = {"lr": config.lr, "weight_decay": config.weight_decay, "amsgrad": config.amsgrad}
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, **options)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, **options)
    raise TrainingError(f"unknown optimizer {config.optimizer!r}; use adam or adamw")


def check_config(config: TrainConfig) -> None:
    """Refuse options that cannot work, naming the valid ones (before any data is read)."""
    if config.schedule not in SCHEDULES:
        raise TrainingError(f"unknown schedule {config.schedule!r}; use one of {SCHEDULES}")
    if config.select_by not in SELECT_BY:
        raise TrainingError(f"unknown --select-by {config.select_by!r}; use one of {SELECT_BY}")
    if isinstance(config.pos_weight, str) and config.pos_weight != "frequency":
        raise TrainingError(f"--pos-weight {config.pos_weight!r} must be a number or 'frequency'")
    if config.warmup_epochs < 0 or config.step_size < 1 or config.plateau_patience < 1:
        raise TrainingError("--warmup-epochs >= 0, --step-size >= 1 and --plateau-patience >= 1")
    if config.ensemble < 1:
        raise TrainingError(f"--ensemble {config.ensemble} must be at least 1")
    if not 0.0 < config.gamma <= 1.0:
        raise TrainingError(f"--gamma {config.gamma} must be in (0, 1]")


def lr_factor(config: TrainConfig, epoch: int, plateau: float = 1.0) -> float:
    """The multiplier of `config.lr` at `epoch` (0-based) of a stage.

    Linear warm-up over `warmup_epochs` ((e + 1) / (w + 1)), then `cosine` (from 1 towards 0
    over the remaining epochs), `step` (gamma every `step_size` epochs), `plateau` (the factor
    the trainer lowered on stalls) or `none` (1).
    """
    warmup = config.warmup_epochs
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    done, span = epoch - warmup, max(config.epochs - warmup, 1)
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * done / span))
    if config.schedule == "step":
        return config.gamma ** (done // config.step_size)
    if config.schedule == "plateau":
        return plateau
    return 1.0


def label_pos_weight(labels: np.ndarray, config: TrainConfig) -> np.ndarray:
    """Per-label BCE positive weights: `config.pos_weight` everywhere, or with "frequency"
    negatives / positives of each label in the training split (PyTorch's documented choice for
    `BCEWithLogitsLoss(pos_weight=...)`; Fish et al. weight classes by frequency). A label
    without training positives gets 1 (it has nothing to weight)."""
    count = labels.shape[1]
    if config.pos_weight != "frequency":
        return np.full(count, float(config.pos_weight), dtype=np.float32)
    positives = labels.sum(axis=0).astype(np.float64)
    negatives = len(labels) - positives
    weights = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
    return weights.astype(np.float32)


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
        fixed_epochs: bool = False,  # a refit (fuse.ensemble): no validation, by design
    ):
        if len(train) == 0:
            raise TrainingError("the training split is empty; check --split / the store's splits")
        check_config(config)
        self.head, self.train_data, self.val_data, self.config = head, train, val, config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.fixed_epochs = fixed_epochs
        self.device = resolve_device(config.device)
        self.amp = config.amp and self.device.type == "cuda"
        self.generator = torch.Generator().manual_seed(config.seed)
        self.history: list[dict[str, Any]] = []
        self.best_epoch: dict[str, int] = {}
        self.best_val_ap = float("-inf")
        self.best_score = float("nan")
        self._plateau = 1.0
        labels = train.labels.numpy()
        without = [n for n, p in zip(head.label_names, labels.sum(axis=0), strict=True) if p == 0]
        if without:
            log.warning(
                "%d label(s) have no positive in the training split and cannot be learned: %s",
                len(without),
                ", ".join(without),
            )
        self.warnings = [f"no training positive: {', '.join(without)}"] if without else []
        weight = torch.from_numpy(label_pos_weight(labels, config)).to(self.device)
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
            inputs, masks = head.training_crop(inputs, masks, self.generator)
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

    def _validate(self, epoch: int = 0, stage: str = "train") -> tuple[float, float, float]:
        """(macro AP, binary cross-entropy, sum of AU(PRC)s) on the validation split; NaNs
        without one.

        The loss breaks ties of AP: on a small validation split AP saturates (often at 1.0) after
        a few epochs, and keeping the first of equal APs would keep an undertrained head. The sum
        is Cai et al.'s selection score: micro + macro + weighted trapezoid PR-AUC.
        """
        if self.val_data is None or len(self.val_data) == 0:
            return float("nan"), float("nan"), float("nan")
        try:
            scores = predict_proba(self.head, self.val_data, max(self.config.batch_size, 64))
        except DataError as error:
            raise NonFiniteTrainingError(
                f"validation after epoch {epoch} ({stage}) failed: {error}"
            ) from error
        labels = self.val_data.labels.numpy()
        p = np.clip(scores.astype(np.float64), 1e-7, 1 - 1e-7)
        loss = float(-(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean())
        if self.config.select_by != "auprc_sum":
            return macro_ap(labels, scores), loss, float("nan")
        summary = evaluate(labels, scores, list(self.head.label_names)).summary
        auprc = sum(summary[f"pr_auc_trapezoid_{k}"] for k in ("micro", "macro", "weighted"))
        return float(summary["ap_macro"]), loss, float(auprc)

    def _score(self, val_ap: float, val_loss: float, auprc_sum: float) -> float:
        """The `select_by` value of an epoch, higher = better (the loss is negated)."""
        if self.config.select_by == "loss":
            return -val_loss
        if self.config.select_by == "auprc_sum":
            return auprc_sum
        return val_ap

    def _check_validation(self) -> None:
        """A validation split must be able to select an epoch (issue 17: "best validation macro
        AP -inf"); without one, the last epoch is kept, and the log says so."""
        if self.val_data is None or len(self.val_data) == 0:
            if not self.fixed_epochs:
                log.warning("no validation split: the head of the last epoch is kept")
            return
        labels = self.val_data.labels.numpy()
        if self.config.select_by != "loss" and not labels.any():
            raise TrainingError(
                f"the validation split ({len(labels)} trailers) has no positive label, so "
                f"--select-by {self.config.select_by} cannot select an epoch: use a split whose "
                "validation part has positives (cinefeat split --kind stratified), or "
                "--select-by loss"
            )
        without = [
            n for n, p in zip(self.head.label_names, labels.sum(axis=0), strict=True) if not p
        ]
        if without:
            log.warning(
                "%d label(s) have no positive in the validation split and do not count in its "
                "macro AP: %s",
                len(without),
                ", ".join(without),
            )

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
            "stage_best_ap": self._stage_best_ap,
            "plateau": self._plateau,
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
        self._check_validation()
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
            self._stage_best_ap, self._plateau = float("nan"), 1.0
            if state and stage_index == start_stage:
                optimizer.load_state_dict(state["optimizer"])
                self.generator.set_state(state["generator"])
                torch.set_rng_state(state["torch_rng"])
                first_epoch, stall = state["epoch"] + 1, state["stall"]
                self.best_val_ap, self._stage_best = state["best_val_ap"], state["stage_best"]
                self._stage_best_loss = state.get("stage_best_loss", float("inf"))
                self._stage_best_ap = state.get("stage_best_ap", state["stage_best"])
                self._plateau = state.get("plateau", 1.0)
                self.history = json.loads(state["history"])
                self.best_epoch = json.loads(state["best_epoch"])
                best_state = state["best_state"]
                if stall >= self.config.patience:
                    first_epoch = self.config.epochs  # that stage had already stopped early
            bar = progress(range(first_epoch, self.config.epochs), desc=f"{head.name}:{stage}")
            for epoch in bar:
                lr = self.config.lr * lr_factor(self.config, epoch, self._plateau)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss = self._train_epoch(optimizer, scaler, epoch, stage)
                val_ap, val_loss, auprc_sum = self._validate(epoch, stage)
                score = self._score(val_ap, val_loss, auprc_sum)
                improved = (
                    np.isnan(score)
                    or score > self._stage_best
                    or (score == self._stage_best and val_loss < self._stage_best_loss)
                )
                if improved:
                    if not np.isnan(score):
                        self._stage_best, self._stage_best_loss = score, val_loss
                        self._stage_best_ap = val_ap
                    best_state = {k: v.detach().cpu().clone() for k, v in head.state_dict().items()}
                    self.best_epoch[stage] = epoch
                    stall = 0
                else:
                    stall += 1
                    cut = stall % self.config.plateau_patience == 0
                    warmed = epoch >= self.config.warmup_epochs
                    if self.config.schedule == "plateau" and warmed and cut:
                        self._plateau *= self.config.gamma
                self.history.append(
                    {
                        "stage": stage,
                        "epoch": epoch,
                        "lr": lr,
                        "loss": loss,
                        "val_ap": val_ap,
                        "val_loss": val_loss,
                        **(
                            {"val_auprc_sum": auprc_sum}
                            if self.config.select_by == "auprc_sum"
                            else {}
                        ),
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
            self.best_val_ap = self._stage_best_ap
            self.best_score = self._stage_best
        head.eval()
        if self.out_dir is not None:
            head.save_pretrained(self.out_dir)
            summary = {
                "config": asdict(self.config),
                "best_val_ap": self.best_val_ap,
                "select_by": self.config.select_by,
                "best_score": self.best_score,
                "best_epoch": self.best_epoch,
                "warnings": self.warnings,
                "history": self.history,
            }
            (self.out_dir / "history.json").write_text(json_text(summary))
        return TrainResult(
            self.best_val_ap,
            dict(self.best_epoch),
            list(self.history),
            self.config.select_by,
            self.best_score,
            self.config.epochs,
        )


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
