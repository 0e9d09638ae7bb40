"""Sulun et al.'s pretrained genre heads (Zenodo 13909366) as cinefeat head folders.

Why: the paper's three trained classifiers (`mlp.pt`, `single_transformer.pt`,
`multi_transformer.pt`, each with `*_config.pt`) score MovieNet trailers without retraining; as
cinefeat folders they run in `cinefeat predict` / `evaluate` on a store imported with
`cinefeat import movienet-sulun2024`, and their predictions can be set beside cinefeat's own heads.

What their code does, as read from serkansulun/trailer-genre-classification
(`classification/src/classifiers.py`, `config.py`, `dataset.py`, `inference.py`, `train.py`):

- `train.py` saves `torch.save(model.state_dict())` and `torch.save(self.config)`, the config
  being `vars(args)` (plain values, `pathlib` paths and a `torch.device`); `config.pt` is read by
  the restricted unpickler (`cinefeat.store.safe_pickle.torch_load`, paths become text) and a
  global outside that set is refused by name, before anything is written.
- Inputs: `normalize` divides `(x - min)` by `(max - min)`, `standardize` subtracts the mean and
  divides by the std, with one scalar per feature from `stats.pt` (or `features.pkl`'s
  `stats`); then each feature is cut to `feature_lengths` rows equidistantly, zero-filled to
  that length (a missing feature is all zeros) and fed unmasked: `padding="zeros"` here.
- Models see the features in sorted name order; the transformers' learned positions are added to
  the <SEP> / <CLS> token in front of each feature too, so that row is folded into the token.
- Outputs: trained with `BCEWithLogitsLoss` and scored (their mAP) on `sigmoid(logits)`, which
  is what cinefeat heads return. `inference.py` prints a `softmax` over the genres instead; both
  are increasing in the logits, so a trailer's genre ranking is the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from cinefeat.fuse.checkpoint import CheckpointError
from cinefeat.fuse.heads.base import FeatureSpec, Head
from cinefeat.fuse.heads.registry import build_head
from cinefeat.store.importers.sulun2024 import DOI, MODELS, RECORD
from cinefeat.store.safe_pickle import load_pickle, path_globals, torch_load

# their model name -> cinefeat head
HEAD_OF = {
    "mlp": "mlp",
    "single_transformer": "single-transformer",
    "multi_transformer": "multi-transformer",
}
# classifiers.py `SINGULAR_FEATURES`: one vector per trailer, no encoder over time
SINGULAR = ("asr_sentiment", "ocr_sentiment")
CONFIG_KEYS = (
    "model", "features", "feature_lengths", "feature_dims", "n_layers", "d_model", "labels",
)  # fmt: skip


class SulunImportError(CheckpointError):
    """Their files are missing, inconsistent or not what their code writes; the message names it."""


@dataclass
class SulunCheckpoint:
    """Their `model.pt` state dict and `config.pt` dict, with where they came from."""

    model: str
    config: dict[str, Any]
    state: dict[str, Tensor]
    files: dict[str, Path]


def checkpoint_files(folder: Path, model: str | None = None) -> tuple[str, Path, Path]:
    """(model, weights, config) in `folder`: Zenodo's names (`mlp.pt` + `mlp_config.pt`) or
    the `model.pt` + `config.pt` that their `download_pretrained_classifiers.py` writes."""
    folder = Path(folder)
    if model is not None and model not in HEAD_OF:
        raise SulunImportError(f"--model must be one of {sorted(HEAD_OF)}, not {model!r}")
    zenodo = [m for m in HEAD_OF if (folder / f"{m}.pt").is_file() and (model in (None, m))]
    if len(zenodo) == 1 or (zenodo and model):
        name = zenodo[0]
        config = folder / f"{name}_config.pt"
        if not config.is_file():
            raise SulunImportError(f"{config} is missing: download it with {name}.pt")
        return name, folder / f"{name}.pt", config
    if zenodo:
        raise SulunImportError(f"{folder} holds {zenodo}: pick one with --model")
    if (folder / "model.pt").is_file() and (folder / "config.pt").is_file():
        name = model or str(read_config(folder / "config.pt").get("model"))
        return name, folder / "model.pt", folder / "config.pt"
    raise SulunImportError(
        f"{folder} holds neither {{mlp,single_transformer,multi_transformer}}.pt with *_config.pt "
        "(Zenodo record 13909366) nor model.pt with config.pt: download them first"
    )


def read_config(path: Path) -> dict[str, Any]:
    config = torch_load(path, extra_globals=path_globals())
    if not isinstance(config, dict):
        raise SulunImportError(f"{path} holds a {type(config).__name__}, not their config dict")
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing:
        raise SulunImportError(f"{path} lacks {missing}: it is not a config.pt of their train.py")
    return config


def read_checkpoint(folder: Path, model: str | None = None) -> SulunCheckpoint:
    name, weights, config_path = checkpoint_files(folder, model)
    config = read_config(config_path)
    if config["model"] != name:
        raise SulunImportError(f"{config_path} describes a {config['model']!r}, not {name!r}")
    state = torch_load(weights)
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise SulunImportError(f"{weights} is not a state dict (name -> tensor)")
    return SulunCheckpoint(name, config, dict(state), {"weights": weights, "config": config_path})


def read_stats(path: Path) -> dict[str, dict[str, float]]:
    """Per-feature scalar min/max/mean/std: their `stats.pt` (torch.save) or `features.pkl`."""
    path = Path(path)
    if path.suffix == ".pkl":
        loaded = load_pickle(path)
        loaded = loaded.get("stats") if isinstance(loaded, dict) else None
    else:
        loaded = torch_load(path, allow_numpy=True)
    if not isinstance(loaded, dict):
        raise SulunImportError(f"{path} holds no {{feature: {{min, max, mean, std}}}} statistics")
    try:
        return {
            str(name): {key: float(values[key]) for key in ("min", "max", "mean", "std")}
            for name, values in loaded.items()
        }
    except (KeyError, TypeError, ValueError) as error:
        message = f"{path}: statistics need min, max, mean and std ({error})"
        raise SulunImportError(message) from error


def _specs(config: dict[str, Any], prefix: str) -> dict[str, FeatureSpec]:
    """{their name: cinefeat spec}, in the sorted order all their models concatenate them in."""
    specs = {}
    for name in sorted(config["features"]):
        try:
            dim, length = int(config["feature_dims"][name]), int(config["feature_lengths"][name])
        except KeyError as error:
            message = f"config names feature {name!r} without a dim or length"
            raise SulunImportError(message) from error
        specs[name] = FeatureSpec(f"{prefix}_{name}", dim, length, averaged=name in SINGULAR)
    return specs


def _options(checkpoint: SulunCheckpoint, specs: dict[str, FeatureSpec]) -> dict[str, Any]:
    config = checkpoint.config
    dropout = float(config.get("dropout", 0.0))
    common = {"dropout": dropout, "padding": "zeros", "crop": "equidistant"}
    if checkpoint.model == "mlp":
        return {**common, "layers": int(config["n_layers"]) - 1, "hidden": int(config["d_model"])}
    d_model = int(config["d_model"])
    if d_model <= 0:  # multi-transformer "use features as is": one width needed here
        dims = {spec.dim for spec in specs.values()}
        if checkpoint.model != "multi_transformer" or len(dims) != 1:
            raise SulunImportError(
                f"d_model={d_model} keeps each feature at its own width {sorted(dims)}; cinefeat's "
                "heads need one width: import a checkpoint trained with d_model > 0"
            )
        d_model = dims.pop()
    return {
        **common,
        "d_model": d_model,
        "heads": int(config["n_heads"]),
        "layers": int(config["n_layers"]),
        "final_norm": True,
        "long_sequences": "equidistant",
    }


class _Source:
    """Their state dict, read key by key; `unused()` names what no mapping consumed."""

    def __init__(self, state: dict[str, Tensor], path: Path) -> None:
        self.state, self.path = state, path
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> Tensor:
        if key not in self.state:
            raise SulunImportError(
                f"{self.path} has no {key!r}: it is not the model its config.pt describes"
            )
        self.used.add(key)
        return self.state[key]

    def prefixed(self, old: str, new: str) -> dict[str, Tensor]:
        keys = [k for k in self.state if k.startswith(old + ".")]
        if not keys:
            raise SulunImportError(f"{self.path} has no {old}.* weights")
        return {new + k[len(old) :]: self[k] for k in keys}

    def unused(self) -> list[str]:
        return sorted(set(self.state) - self.used)


def _linear(source: _Source, old: str, new: str) -> dict[str, Tensor]:
    return {f"{new}.weight": source[f"{old}.weight"], f"{new}.bias": source[f"{old}.bias"]}


def _identity(new: str, dim: int) -> dict[str, Tensor]:
    return {f"{new}.weight": torch.eye(dim), f"{new}.bias": torch.zeros(dim)}


def _split_positions(table: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """Their sequence-first (max_len, 1, d) table -> (the row of the token in front, (1, L, d))."""
    return table[0, 0], table[1 : length + 1, 0].unsqueeze(0)


def map_state(checkpoint: SulunCheckpoint, specs: dict[str, FeatureSpec]) -> dict[str, Tensor]:
    """Their state dict in the key names and layout of the matching cinefeat head."""
    source = _Source(checkpoint.state, checkpoint.files["weights"])
    state: dict[str, Tensor] = {}
    if checkpoint.model == "mlp":  # Sequential of Linear (+ Dropout, ReLU): Linears at 0, 3, ...
        layers = int(checkpoint.config["n_layers"])
        for index in range(layers - 1):
            state |= _linear(source, f"model.{3 * index}", f"body.{3 * index}")
        state |= _linear(source, f"model.{3 * (layers - 1)}", "classifier")
    elif checkpoint.model == "single_transformer":
        separators = []
        for theirs, spec in specs.items():
            state |= _linear(source, f"encoders.{theirs}", f"project.{spec.name}")
            front, rows = _split_positions(source[f"positional_encoding.{theirs}.pe"], spec.max_len)
            separators.append(source[f"sep_vectors.{theirs}"][0, 0] + front)
            state[f"positions.{spec.name}"] = rows
        state["separators"] = torch.stack(separators)
        state["cls"] = source["cls_vector"]
        state |= source.prefixed("transformer.transformer_body", "encoder")
        state |= _linear(source, "decoder", "classifier.1")
    else:
        has_encoders = int(checkpoint.config["d_model"]) > 0
        for theirs, spec in specs.items():
            branch = f"branches.{spec.name}"
            project = branch if spec.averaged else f"{branch}.project"
            if has_encoders:
                state |= _linear(source, f"encoders.{theirs}", project)
            else:
                state |= _identity(project, spec.dim)
            if spec.averaged:
                continue
            table = source[f"transformers.{theirs}.pos_encoder.pe"]
            front, rows = _split_positions(table, spec.max_len)
            state[f"{branch}.cls"] = source[f"cls_vectors.{theirs}"] + front
            state[f"{branch}.positions"] = rows
            state |= source.prefixed(f"transformers.{theirs}.transformer_body", f"{branch}.encoder")
        state |= _linear(source, "decoder", "classifier.1")
    unused = source.unused()
    if unused:
        raise SulunImportError(f"{source.path} has weights no cinefeat layer takes: {unused[:5]}")
    return {key: value.detach().float().contiguous() for key, value in state.items()}


def normalization(
    config: dict[str, Any], stats: dict[str, dict[str, float]] | None, specs: dict[str, FeatureSpec]
) -> dict[str, tuple[Tensor, Tensor]]:
    """Their min-max and/or standardisation as one (x - shift) / scale per feature."""
    normalize, standardize = bool(config.get("normalize")), bool(config.get("standardize"))
    if not (normalize or standardize):
        return {}
    if stats is None:
        raise SulunImportError(
            "the head was trained on normalised features: pass --stats with their "
            "preprocessing/data/stats.pt (or features.pkl)"
        )
    result = {}
    for theirs, spec in specs.items():
        if theirs not in stats:
            raise SulunImportError(f"--stats has no statistics for {theirs!r}")
        s = stats[theirs]
        shift, scale = 0.0, 1.0
        if normalize:  # utils.normalize, applied first in dataset.py
            shift, scale = s["min"], s["max"] - s["min"]
        if standardize:  # then utils.standardize on the result
            shift, scale = shift + s["mean"] * scale, scale * s["std"]
        full = torch.full((spec.dim,), 1.0, dtype=torch.float64)
        result[spec.name] = (full * shift, full * scale)
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_imported_head(
    checkpoint: SulunCheckpoint,
    stats: dict[str, dict[str, float]] | None,
    prefix: str = "sulun2024",
) -> Head:
    """The cinefeat head that computes their model's logits on the same features."""
    specs = _specs(checkpoint.config, prefix)
    labels = list(checkpoint.config["labels"])
    options = _options(checkpoint, specs)
    head = build_head(HEAD_OF[checkpoint.model], list(specs.values()), labels, options)
    try:
        head.load_state_dict(map_state(checkpoint, specs), strict=True)
    except RuntimeError as error:
        raise SulunImportError(
            f"{checkpoint.files['weights']} does not fit the {head.name} that config.pt describes "
            f"({str(error).splitlines()[0]})"
        ) from error
    head.normalization = normalization(checkpoint.config, stats, specs)
    head.provenance = {
        "imported": {
            "release": "Sulun et al. 2024 pretrained genre classifiers",
            "record": RECORD,
            "doi": DOI,
            "model": checkpoint.model,
            "files": {
                kind: {"name": path.name, "sha256": _sha256(path)}
                for kind, path in checkpoint.files.items()
            },
            "output": "sigmoid of the logits (their evaluation); inference.py shows a softmax",
        },
        "features": {
            spec.name: {"release_feature": theirs, "model": MODELS[theirs][1]}
            if theirs in MODELS
            else {"release_feature": theirs}
            for theirs, spec in specs.items()
        },
        "data": {"normalize": bool(head.normalization), "split": "sulun2024"},
    }
    return head.eval()


def import_sulun2024(
    folder: str | Path,
    out: str | Path,
    model: str | None = None,
    stats: str | Path | None = None,
    prefix: str = "sulun2024",
) -> Path:
    """Read their checkpoint in `folder`, write the cinefeat head folder `out`; returns `out`.

    Everything is read and mapped before `out` is created, so a refused file writes nothing.
    """
    checkpoint = read_checkpoint(Path(folder), model)
    stats_path = Path(stats) if stats is not None else Path(folder) / "stats.pt"
    table = read_stats(stats_path) if stats is not None or stats_path.is_file() else None
    head = build_imported_head(checkpoint, table, prefix)
    if table is not None and head.normalization:
        head.provenance["imported"]["files"]["stats"] = {
            "name": stats_path.name,
            "sha256": _sha256(stats_path),
        }
    return head.save_pretrained(out)
