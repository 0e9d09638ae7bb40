"""Self-describing head folders: weights as safetensors, everything else as JSON.

A folder holds `model.safetensors`, `config.json` (head name + config), `labels.json`,
`features.json` (names, dims, max lengths, averaged features, store provenance) and
`normalization.safetensors` (per-feature float64 mean/std from the training split). Nothing is
unpickled, so a folder downloaded from anywhere is safe to load. A seed ensemble (`--ensemble
K`, `cinefeat.fuse.ensemble`) adds `ensemble.json` naming its other members' folders
(`members/01`, ...), each a whole head folder; loading the top folder loads them all, so
`predict` and `evaluate` average every member.

Every trainable model of fuse is a `Head` and is saved here, the zero-shot head included (it adds
its threshold M and the text encoder's provenance, as a buffer and in `features.json`). `format`
in `config.json` says which layout a folder has: 1 is the one above; a folder without it is the
zero-shot folder of cinefeat 0.1, which the head class reads itself (`Head.read_legacy_folder`,
`cinefeat.fuse.zeroshot.legacy`) into the same parts.

A folder that is not whole is refused with an error naming the file, never loaded half-way: a
deleted `normalization.safetensors` would otherwise predict on unstandardised inputs without a
word, a truncated weights file would end in a raw traceback, and NaN weights would score every
label NaN with status ok.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from cinefeat.fuse.heads import HEADS, FeatureSpec, Head
from cinefeat.store.errors import CinefeatError

FORMAT_VERSION = 1
NORMALIZATION = "normalization.safetensors"
FILES = ("model.safetensors", "config.json", "labels.json", "features.json", NORMALIZATION)
ENSEMBLE = "ensemble.json"


class CheckpointError(CinefeatError, ValueError):
    """A head folder that cannot be loaded; the message says what is missing and how to get it."""


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("cinefeat")
    except Exception:  # not installed (running from a source tree)
        return "unknown"


def save_head(head: Head, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"head": head.name})
    config = {
        "head": head.name,
        "config": head.config.to_dict(),
        "format": FORMAT_VERSION,
        "cinefeat_version": _version(),
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "labels.json").write_text(json.dumps(head.label_names, indent=2))
    features = {
        "features": [spec.to_dict() for spec in head.features],
        "average": head.average,
        "provenance": head.provenance,
    }
    (folder / "features.json").write_text(json.dumps(features, indent=2, default=str))
    stats: dict[str, torch.Tensor] = {}
    for name, (mean, std) in head.normalization.items():
        stats[f"{name}.mean"] = mean.detach().cpu().double().contiguous()
        stats[f"{name}.std"] = std.detach().cpu().double().contiguous()
    save_file(stats, str(folder / NORMALIZATION))
    if head.ensemble_members:
        names = [f"members/{index:02d}" for index in range(1, len(head.ensemble_members) + 1)]
        for name, member in zip(names, head.ensemble_members, strict=True):
            save_head(member, folder / name)
        ensemble = {"members": names, "combine": "mean of the members' probabilities"}
        (folder / ENSEMBLE).write_text(json.dumps(ensemble, indent=2))
    elif (folder / ENSEMBLE).is_file():  # a single head saved over an ensemble's folder
        (folder / ENSEMBLE).unlink()
    return folder


def _read_json(folder: Path, name: str) -> Any:
    try:
        return json.loads((folder / name).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"{folder / name} is not valid JSON ({error}); re-save the head"
        ) from error


def read_tensors(folder: Path, name: str) -> dict[str, torch.Tensor]:
    """A safetensors file, or CheckpointError naming it (truncated, not safetensors, NaN)."""
    try:
        tensors = load_file(str(folder / name))
    except Exception as error:  # SafetensorError, OSError: a truncated or foreign file
        raise CheckpointError(
            f"{folder / name} is not a readable safetensors file ({error}): the download or copy "
            "is incomplete; copy the head folder again or retrain"
        ) from error
    bad = [key for key, tensor in tensors.items() if not torch.isfinite(tensor).all()]
    if bad:
        raise CheckpointError(
            f"{folder / name} holds non-finite values in {bad[:3]}"
            f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}: the head was saved from a "
            "diverged run; retrain it"
        )
    return tensors


def _normalization(folder: Path, specs: list[FeatureSpec], provenance: dict[str, Any]):
    """The per-feature statistics, all or none; none only for a head trained --no-normalize."""
    stats = read_tensors(folder, NORMALIZATION)
    names = [spec.name for spec in specs]
    present = [n for n in names if f"{n}.mean" in stats and f"{n}.std" in stats]
    trained_normalized = (provenance.get("data") or {}).get("normalize", True)
    if (present and present != names) or (not present and trained_normalized and names):
        missing = [n for n in names if n not in present]
        raise CheckpointError(
            f"{folder / NORMALIZATION} has no statistics for features {missing}, which the head "
            "was trained standardised: copy the head folder again or retrain"
        )
    return {n: (stats[f"{n}.mean"], stats[f"{n}.std"]) for n in present}


def _members(folder: Path, head: Head, device: str | torch.device) -> list[Head]:
    """The other members named by `ensemble.json`, each refused unless it is a whole head folder
    of the same head, labels and features (a member predicting other labels would be averaged
    column by column into nonsense)."""
    doc = _read_json(folder, ENSEMBLE)
    names = doc.get("members") if isinstance(doc, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CheckpointError(f"{folder / ENSEMBLE} must list its member folders under 'members'")
    members = []
    for name in names:
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents or (path / ENSEMBLE).exists():
            raise CheckpointError(f"{folder / ENSEMBLE}: member {name!r} is not a folder inside it")
        member = load_head(path, device)
        same = (member.name, member.label_names, member.feature_names) == (
            head.name,
            head.label_names,
            head.feature_names,
        )
        if not same:
            raise CheckpointError(
                f"{path} is not a member of the ensemble in {folder}: it is a {member.name!r} head "
                f"on {member.feature_names} predicting {len(member.label_names)} labels"
            )
        members.append(member)
    return members


def _current_parts(folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a folder in the current format, every file checked."""
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(
            f"{folder} is not a head folder: missing {missing}. Point to the --out folder of "
            f"`cinefeat train` (it holds {', '.join(FILES)})"
        )
    features = _read_json(folder, "features.json")
    return {
        "config": config.get("config"),
        "features": features,
        "labels": _read_json(folder, "labels.json"),
        "state": None,  # read once the head is built (the config errors come first)
        "normalization": None,
    }


def load_head(folder: str | Path, device: str | torch.device = "cpu") -> Head:
    """The head in `folder` (with its ensemble members, when `ensemble.json` names some)."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise CheckpointError(
            f"{folder} is not a head folder: missing ['config.json']. Point to the --out folder "
            f"of `cinefeat train` or `cinefeat zeroshot-train` (it holds {', '.join(FILES)})"
        )
    config = _read_json(folder, "config.json")
    name = config.get("head") if isinstance(config, dict) else None
    if name not in HEADS:
        raise CheckpointError(
            f"{folder} holds head {name!r}, unknown to this cinefeat; known: {sorted(HEADS)}. "
            "Upgrade cinefeat to the version that wrote it"
        )
    cls = HEADS[name]
    version = config.get("format")
    if version is None:
        parts = cls.read_legacy_folder(folder, config)
    elif version == FORMAT_VERSION:
        parts = _current_parts(folder, config)
    else:
        raise CheckpointError(
            f"{folder} is a head folder of format {version!r}; this cinefeat reads formats 0 "
            f"and {FORMAT_VERSION}. Upgrade cinefeat to the version that wrote it"
        )
    features_doc = parts["features"]
    try:
        specs = [FeatureSpec(**spec) for spec in features_doc["features"]]
        head = cls(cls.config_class.from_dict(parts["config"]), specs, parts["labels"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"{folder}: config.json / features.json / labels.json do not describe a {name!r} "
            f"head ({type(error).__name__}: {error}); re-save the head"
        ) from error
    state = (
        parts["state"] if parts["state"] is not None else read_tensors(folder, "model.safetensors")
    )
    try:
        head.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(
            f"{folder / 'model.safetensors'} does not fit the head config.json describes "
            f"({str(error).splitlines()[0]}); the files come from different heads"
        ) from error
    head.provenance = features_doc.get("provenance", {})
    head.normalization = (
        parts["normalization"]
        if parts["normalization"] is not None
        else _normalization(folder, specs, head.provenance)
    )
    head = head.to(device).eval()
    if (folder / ENSEMBLE).is_file():
        head.ensemble_members = _members(folder, head, device)
    return head
