"""Self-describing head folders: weights as safetensors, everything else as JSON.

A folder holds `model.safetensors`, `config.json` (head name + config), `labels.json`,
`features.json` (names, dims, max lengths, averaged features, store provenance) and
`normalization.safetensors` (per-feature mean/std from the training split). Nothing is unpickled,
so a folder downloaded from anywhere is safe to load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from cinefeat.fuse.heads import HEADS, FeatureSpec, Head

FORMAT_VERSION = 1
FILES = ("model.safetensors", "config.json", "labels.json", "features.json")
NORMALIZATION = "normalization.safetensors"


class CheckpointError(ValueError):
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
        stats[f"{name}.mean"] = mean.detach().cpu().float().contiguous()
        stats[f"{name}.std"] = std.detach().cpu().float().contiguous()
    save_file(stats, str(folder / NORMALIZATION))
    return folder


def _read_json(folder: Path, name: str) -> Any:
    try:
        return json.loads((folder / name).read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(
            f"{folder / name} is not valid JSON ({error}); re-save the head"
        ) from error


def load_head(folder: str | Path, device: str | torch.device = "cpu") -> Head:
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(
            f"{folder} is not a head folder: missing {missing}. Point to the --out folder of "
            "`cinefeat train` (it holds model.safetensors, config.json, labels.json, features.json)"
        )
    config = _read_json(folder, "config.json")
    name = config.get("head")
    if name not in HEADS:
        raise CheckpointError(
            f"{folder} holds head {name!r}, unknown to this cinefeat; known: {sorted(HEADS)}. "
            "Upgrade cinefeat to the version that wrote it"
        )
    cls = HEADS[name]
    features_doc = _read_json(folder, "features.json")
    specs = [FeatureSpec(**spec) for spec in features_doc["features"]]
    head = cls(
        cls.config_class.from_dict(config["config"]), specs, _read_json(folder, "labels.json")
    )
    state = load_file(str(folder / "model.safetensors"))
    head.load_state_dict(state, strict=True)
    head.provenance = features_doc.get("provenance", {})
    if (folder / NORMALIZATION).is_file():
        stats = load_file(str(folder / NORMALIZATION))
        head.normalization = {
            spec.name: (stats[f"{spec.name}.mean"], stats[f"{spec.name}.std"])
            for spec in specs
            if f"{spec.name}.mean" in stats
        }
    return head.to(device).eval()
