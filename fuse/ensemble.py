"""Training recipes beyond one run: refit on train + validation, and seed ensembles.

`--refit` (issue 17, small data): the validation split chooses the number of epochs (the best
epoch of an ordinary run), then a fresh head trains on train + validation for that many epochs
with no early stopping, so the rows that only selected an epoch also teach the head (15 % more
data on MULAN emotions). The refit head is what is saved; the selection run's history is kept
in `history.json` under `selection`.

`--bootstrap` / `--subspace F` (`cinefeat.fuse.bagging`): each member trains on a bootstrap
sample of the training rows and/or reads a random share F of each feature's columns (recorded in
its config), as a random forest's trees do; with `--refit` the refit split is resampled the same
way, the validation split never.

`--ensemble K`: K members trained with seeds `seed, seed + 1, ...` (each run exactly as a single
one, refit included); the head folder holds member 0 at its top and the others in
`members/NN/`, listed in `ensemble.json`, and `predict` / `evaluate` average the K members'
probabilities (`cinefeat.fuse.predict.predict_padded`; `cinefeat.fuse.checkpoint` loads them).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.fuse.bagging import bootstrap_rows, check_subspace, draw_columns, restrict
from cinefeat.fuse.data import PaddedFeatures, fit_normalization
from cinefeat.fuse.heads import Head
from cinefeat.fuse.metrics import macro_ap
from cinefeat.fuse.predict import predict_padded
from cinefeat.fuse.train import (
    TrainConfig,
    Trainer,
    TrainingError,
    TrainResult,
    fit,
    seed_everything,
)
from cinefeat.store.jsonout import json_text

MEMBERS_DIR = "members"


def member_folder(out_dir: Path, index: int) -> Path:
    """Member 0 is the head folder itself; member k its `members/kk/` (see `ensemble.json`)."""
    return out_dir if index == 0 else out_dir / MEMBERS_DIR / f"{index:02d}"


def _one_member(
    build: Callable[[], Head],
    train: PaddedFeatures,
    val: PaddedFeatures | None,
    config: TrainConfig,
    out_dir: Path | None,
    refit_train: PaddedFeatures | None,
    normalize: bool,
    resume: bool,
) -> tuple[Head, TrainResult]:
    seed_everything(config.seed)
    bag = np.random.default_rng(config.seed)  # this member's rows and columns
    head = build()
    columns = draw_columns(head.features, config.subspace, bag)
    restrict(head, columns)
    if normalize:  # statistics of the whole split, not of a resample
        head.normalization = fit_normalization(train)
    rows = bootstrap_rows(train, bag) if config.bootstrap else train
    if not config.refit:
        return head, fit(head, rows, val, config, out_dir, resume=resume)
    if len(head.stages) > 1:
        raise TrainingError(
            f"--refit needs a head trained in one stage; {head.name!r} has stages {head.stages}"
        )
    if val is None or len(val) == 0 or refit_train is None:
        raise TrainingError("--refit needs a validation split to choose the number of epochs")
    selection = fit(head, rows, val, config)  # in memory: only its best epoch is kept
    epochs = selection.best_epoch[head.stages[0]] + 1
    seed_everything(config.seed)
    head = restrict(build(), columns)
    if normalize:
        head.normalization = fit_normalization(refit_train)
    refit = dataclasses.replace(config, epochs=epochs)
    refit_rows = bootstrap_rows(refit_train, bag) if config.bootstrap else refit_train
    Trainer(head, refit_rows, None, refit, out_dir, fixed_epochs=True).fit()
    if out_dir is not None:  # the refit's history, plus the run that chose its length
        path = out_dir / "history.json"
        summary = json.loads(path.read_text())
        summary["selection"] = {
            "best_epoch": selection.best_epoch,
            "best_val_ap": selection.best_val_ap,
            "best_score": selection.best_score,
            "refit_epochs": epochs,
            "refit_trailers": len(refit_train),
            "history": selection.history,
        }
        path.write_text(json_text(summary))
    return head, selection


def fit_recipe(
    build: Callable[[], Head],
    train: PaddedFeatures,
    val: PaddedFeatures | None,
    config: TrainConfig,
    out_dir: str | Path | None = None,
    refit_train: PaddedFeatures | None = None,
    normalize: bool = True,
    resume: bool = False,
) -> tuple[Head, TrainResult, dict[str, Any]]:
    """Train `config.ensemble` members (each refit on `refit_train` = train + validation, cut
    like train, when `config.refit`); returns member 0 carrying the others in
    `ensemble_members`, the selection result of member 0, and what the recipe did.

    `build` returns a fresh head (provenance set, no normalisation); it is called after seeding,
    so a member's initial weights depend on its seed only.
    """
    if config.ensemble < 1:
        raise TrainingError(f"--ensemble {config.ensemble} must be at least 1")
    check_subspace(config.subspace)
    if resume and (config.ensemble > 1 or config.refit or config.bootstrap):
        raise TrainingError(
            "--resume continues one run; it cannot resume --ensemble, --refit or --bootstrap"
        )
    out = Path(out_dir) if out_dir is not None else None
    members, results = [], []
    for index in range(config.ensemble):
        folder = member_folder(out, index) if out is not None else None
        member_config = dataclasses.replace(config, seed=config.seed + index)
        head, result = _one_member(
            build, train, val, member_config, folder, refit_train, normalize, resume
        )
        members.append(head)
        results.append(result)
    first = members[0]
    first.ensemble_members = members[1:]
    recipe: dict[str, Any] = {
        "ensemble": config.ensemble,
        "seeds": [config.seed + i for i in range(config.ensemble)],
        "refit": config.refit,
        "bootstrap": config.bootstrap,
        "subspace": config.subspace,
        "member_best_epochs": [r.best_epoch for r in results],
        "member_val_ap_macro": [r.best_val_ap for r in results],
    }
    if config.ensemble > 1 and not config.refit and val is not None and len(val):
        scores = predict_padded(first, val)  # the refit members have seen the validation split
        recipe["ensemble_val_ap_macro"] = macro_ap(val.labels.numpy(), scores)
    if out is not None and config.ensemble > 1:
        first.save_pretrained(out)  # writes members/ and ensemble.json next to member 0
    return first, results[0], recipe
