"""One training run from a store, as `cinefeat train` and `cinefeat tune` both need it.

Order matters for reproducibility: seed, then load, then build the head (its initial weights
come from the seeded generator), then train.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.ensemble import fit_recipe
from cinefeat.fuse.heads import Head, build_head, default_crop
from cinefeat.fuse.store_data import (
    StoreSelection,
    feature_specs,
    load_padded,
    load_subsets,
    provenance,
    select,
)
from cinefeat.fuse.train import TrainConfig, TrainResult, seed_everything


@dataclass
class DataOptions:
    features: list[str]
    split: str | None = None
    split_file: str | None = None
    max_len: dict[str, int] | str = "whisker"
    average: list[str] = field(default_factory=list)
    top_k: int | None = None
    duration_filter: bool = False
    normalize: bool = True
    # training-time crop (cinefeat.fuse.data.CROPS), also in the head config; None: the head's or
    # preset's own (`default_crop`), so `--arch single-transformer:sulun2024` subsamples as Sulun
    crop: str | None = None


@dataclass
class LoadedSplit:
    selection: StoreSelection
    train: PaddedFeatures
    val: PaddedFeatures
    test: PaddedFeatures
    crop: str = "first"  # the crop the training split was cut with (what the head records)


def load_split(store: Any, options: DataOptions, head_name: str | None = None) -> LoadedSplit:
    """The train/val/test data of `options`; with `options.crop` None the training split is cut
    the way `head_name` (a head or preset) crops by default."""
    crop = options.crop or (default_crop(head_name) if head_name else "first")
    selection = select(
        store,
        options.features,
        options.split,
        options.split_file,
        options.max_len,
        options.top_k,
        options.duration_filter,
    )
    parts = load_subsets(store, options.features, selection, options.average, crop)
    return LoadedSplit(selection, parts["train"], parts["val"], parts["test"], crop)


def train_head(
    store: Any,
    data: LoadedSplit,
    options: DataOptions,
    head_name: str,
    head_options: dict[str, Any],
    config: TrainConfig,
    out_dir: str | Path | None,
    resume: bool = False,
) -> tuple[Head, TrainResult]:
    """Train (and save in `out_dir`) one head, or a refit / seed ensemble of it
    (`config.refit`, `config.ensemble`: `cinefeat.fuse.ensemble`); `TrainResult.recipe` says
    what the recipe did."""
    seed_everything(config.seed)
    specs = feature_specs(data.train, options.average, data.selection.max_len)
    # the crop the training data was cut with, whatever asked for it (--crop or the preset)
    head_options = {**head_options, "crop": data.crop}
    selection = data.selection
    split = selection.split_name or options.split or options.split_file
    recorded = provenance(
        store,
        options.features,
        split,
        {
            "split": selection.split_name if not options.split_file else None,
            "split_file": str(Path(options.split_file).resolve()) if options.split_file else None,
            "top_k": options.top_k,
            "duration_filter": options.duration_filter,
            "average": list(options.average),
            "normalize": options.normalize,
            "max_len": dict(selection.max_len),
            "crop": data.crop,
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "refit": config.refit,
            "ensemble": config.ensemble,
            "bootstrap": config.bootstrap,
            "subspace": config.subspace,
        },
    )

    def build() -> Head:
        head = build_head(head_name, specs, selection.label_names, head_options)
        head.provenance = recorded
        return head

    refit_train = None
    if config.refit:  # train + val, cut to the training lengths the way train was
        ids = [*data.train.ids, *data.val.ids]
        refit_train = load_padded(
            store, options.features, ids, selection, options.average, data.crop
        )
    head, result, recipe = fit_recipe(
        build, data.train, data.val, config, out_dir, refit_train, options.normalize, resume
    )
    result.recipe = recipe
    return head, result


def train_config(**values: Any) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known and v is not None})


def split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """`KEY=VALUE` strings (from --set) -> dict."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r} must be KEY=VALUE, e.g. --set d_model=128")
        out[key.strip().replace("-", "_")] = value.strip()
    return out
