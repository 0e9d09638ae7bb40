"""`cinefeat import-head sulun2024`: Sulun et al.'s checkpoints give their predictions in cinefeat.

The files are built as their `classification/src/train.py` saves them (serkansulun/
trailer-genre-classification): `torch.save(model.state_dict())` with the parameter names and
shapes of their `classifiers.py` modules (`MLP`, `SingleTransformer`, `MultiTransformer`,
`Transformer`, `PositionalEncoding`: sequence-first tables of shape (max_len, 1, d)), and
`torch.save(vars(args))` with the values of their `config.py` (feature lengths lowered by one for
the multi-transformer, paths and a device included); `stats.pt` is a dict of numpy scalars as in
their repository. Their models' logits are recomputed here from the raw tensors with plain
tensor algebra (their loader: normalise, equidistant cut, zero fill, sorted concatenation; a
post-norm encoder layer and a final LayerNorm), so a wrong key, transpose, order or position row
in the mapping fails the comparison.
"""

from __future__ import annotations

import math
import os
import pathlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.fuse.checkpoint import load_head
from cinefeat.fuse.import_sulun2024 import SulunImportError, import_sulun2024
from cinefeat.fuse.predict import predict_arrays
from cinefeat.store.safe_pickle import UnsafePickleError

GENRES = sorted(
    [
        "Action",
        "Adventure",
        "Animation",
        "Biography",
        "Comedy",
        "Crime",
        "Documentary",
        "Drama",
        "Family",
        "Fantasy",
        "History",
        "Horror",
        "Music",
        "Musical",
        "Mystery",
        "Romance",
        "Sci-Fi",
        "Sport",
        "Thriller",
        "War",
        "Western",
    ]
)
DIMS = {"asr_sentiment": 5, "beats": 6, "clip": 8, "face_emotion": 6, "ocr_sentiment": 5}
LENGTHS = {"asr_sentiment": 1, "beats": 4, "clip": 5, "face_emotion": 3, "ocr_sentiment": 1}
SINGULAR = ("asr_sentiment", "ocr_sentiment")
D_MODEL, HEADS, LAYERS = 8, 2, 2


def their_config(
    model: str, normalize: bool, standardize: bool, dims: dict[str, int] = DIMS
) -> dict[str, Any]:
    """`vars(args)` after their config.py, with small sizes."""
    lengths = dict(LENGTHS)
    if model == "multi_transformer":  # config.py: -1 for the <CLS> token
        lengths = {k: v - 1 if "sentiment" not in k else v for k, v in lengths.items()}
    return {
        "model": model,
        "features": sorted(dims),
        "all_features": sorted(dims),
        "feature_lengths": lengths,
        "feature_dims": dict(dims),
        "n_layers": LAYERS,
        "d_model": D_MODEL,
        "n_heads": HEADS,
        "dropout": 0.0,
        "labels": GENRES,
        "n_labels": len(GENRES),
        "normalize": normalize,
        "standardize": standardize,
        "fixed_position_encoding": False,
        "lr": 1e-5,
        "batch_size": 32,
        "device": torch.device("cpu"),
        "main_output_dir": pathlib.Path("classification/output"),
        "output_dir": pathlib.Path("classification/output/2024_01_01_00_00_00_000000"),
        "restart_dir": None,
        "start_time": "2024_01_01_00_00_00_000000",
        "trn_val_tst_ratio": [0.7, 0.1, 0.2],
        "amp": True,
    }


def _rand(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator) * 0.5


def _encoder_state(prefix: str, d: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    """nn.TransformerEncoder(TransformerEncoderLayer(d, h, 4d), n, norm=LayerNorm(d))."""
    state = {}
    for i in range(LAYERS):
        p = f"{prefix}.layers.{i}"
        state |= {
            f"{p}.self_attn.in_proj_weight": _rand(g, 3 * d, d),
            f"{p}.self_attn.in_proj_bias": _rand(g, 3 * d),
            f"{p}.self_attn.out_proj.weight": _rand(g, d, d),
            f"{p}.self_attn.out_proj.bias": _rand(g, d),
            f"{p}.linear1.weight": _rand(g, 4 * d, d),
            f"{p}.linear1.bias": _rand(g, 4 * d),
            f"{p}.linear2.weight": _rand(g, d, 4 * d),
            f"{p}.linear2.bias": _rand(g, d),
            f"{p}.norm1.weight": 1 + _rand(g, d),
            f"{p}.norm1.bias": _rand(g, d),
            f"{p}.norm2.weight": 1 + _rand(g, d),
            f"{p}.norm2.bias": _rand(g, d),
        }
    return state | {f"{prefix}.norm.weight": 1 + _rand(g, d), f"{prefix}.norm.bias": _rand(g, d)}


def their_state(model: str, config: dict[str, Any], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    d, lengths, out = D_MODEL, config["feature_lengths"], len(GENRES)
    dims: dict[str, int] = config["feature_dims"]
    state: dict[str, torch.Tensor] = {}
    if model == "mlp":  # sizes [sum dims] + [d] * (n - 1) + [labels]; Linear, Dropout, ReLU
        sizes = [sum(dims.values())] + [d] * (LAYERS - 1) + [out]
        for i in range(len(sizes) - 1):
            state[f"model.{3 * i}.weight"] = _rand(g, sizes[i + 1], sizes[i])
            state[f"model.{3 * i}.bias"] = _rand(g, sizes[i + 1])
        return state
    for name, dim in dims.items():
        state[f"encoders.{name}.weight"] = _rand(g, d, dim)
        state[f"encoders.{name}.bias"] = _rand(g, d)
    if model == "single_transformer":
        total = sum(lengths.values()) + len(lengths) + 1
        for name in dims:
            state[f"sep_vectors.{name}"] = _rand(g, 1, 1, d)
            state[f"positional_encoding.{name}.pe"] = _rand(g, total, 1, d)
        state |= _encoder_state("transformer.transformer_body", d, g)
        state["cls_vector"] = _rand(g, 1, 1, d)
        return state | {"decoder.weight": _rand(g, out, d), "decoder.bias": _rand(g, out)}
    for name in dims:
        if name not in SINGULAR:
            state[f"transformers.{name}.pos_encoder.pe"] = _rand(g, lengths[name] + 1, 1, d)
            state |= _encoder_state(f"transformers.{name}.transformer_body", d, g)
            state[f"cls_vectors.{name}"] = _rand(g, 1, 1, d)
    width = d * len(dims)
    return state | {"decoder.weight": _rand(g, out, width), "decoder.bias": _rand(g, out)}


STATS = {
    name: {"mean": np.float32(0.1 * i), "std": np.float32(1.5 + i), "min": np.float32(-2.0 - i),
           "max": np.float32(3.0 + i)}
    for i, name in enumerate(sorted(DIMS))
}  # fmt: skip


# --- their forward pass, recomputed ----------------------------------------------------------


def _loader(name: str, rows: np.ndarray, config: dict[str, Any]) -> torch.Tensor:
    """dataset.py for one trailer: normalise, then cut equidistantly / zero-fill to the length."""
    length, dim = config["feature_lengths"][name], DIMS[name]
    if len(rows) == 0:
        return torch.zeros(length, dim)
    x = torch.as_tensor(rows, dtype=torch.float32)
    s = {k: float(v) for k, v in STATS[name].items()}
    if config["normalize"]:
        x = (x - s["min"]) / (s["max"] - s["min"])
    if config["standardize"]:
        x = (x - s["mean"]) / s["std"]
    if len(x) > length:
        x = x[np.round(np.linspace(0, len(x) - 1, num=length)).astype(np.int32)]
    return torch.cat([x, torch.zeros(length - len(x), dim)])


def _layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5) * w + b


def _encoder(x: torch.Tensor, s: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
    """Post-norm layers (attention, ReLU feed-forward) and the final LayerNorm; x is (T, d)."""
    d, h = x.shape[1], HEADS
    for i in range(LAYERS):
        p = f"{prefix}.layers.{i}"
        qkv = x @ s[f"{p}.self_attn.in_proj_weight"].T + s[f"{p}.self_attn.in_proj_bias"]
        q, k, v = (part.reshape(-1, h, d // h).transpose(0, 1) for part in qkv.split(d, dim=1))
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d // h), dim=-1)
        attended = (weights @ v).transpose(0, 1).reshape(-1, d)
        attended = (
            attended @ s[f"{p}.self_attn.out_proj.weight"].T + s[f"{p}.self_attn.out_proj.bias"]
        )
        x = _layer_norm(x + attended, s[f"{p}.norm1.weight"], s[f"{p}.norm1.bias"])
        hidden = torch.relu(x @ s[f"{p}.linear1.weight"].T + s[f"{p}.linear1.bias"])
        ff = hidden @ s[f"{p}.linear2.weight"].T + s[f"{p}.linear2.bias"]
        x = _layer_norm(x + ff, s[f"{p}.norm2.weight"], s[f"{p}.norm2.bias"])
    return _layer_norm(x, s[f"{prefix}.norm.weight"], s[f"{prefix}.norm.bias"])


def _linear(x: torch.Tensor, s: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
    return x @ s[f"{prefix}.weight"].T + s[f"{prefix}.bias"]


def their_logits(
    model: str, s: dict[str, torch.Tensor], config: dict[str, Any], trailer
) -> torch.Tensor:
    x = {name: _loader(name, trailer[name], config) for name in sorted(DIMS)}
    if model == "mlp":
        hidden = torch.cat([x[name].mean(0) for name in sorted(x)])
        for i in range(LAYERS):
            hidden = _linear(hidden, s, f"model.{3 * i}")
            hidden = torch.relu(hidden) if i < LAYERS - 1 else hidden
        return hidden
    if model == "single_transformer":
        parts = [s["cls_vector"][0]]
        for name in sorted(x):
            tokens = torch.cat(
                [s[f"sep_vectors.{name}"][0], _linear(x[name], s, f"encoders.{name}")]
            )
            parts.append(tokens + s[f"positional_encoding.{name}.pe"][: len(tokens), 0])
        encoded = _encoder(torch.cat(parts), s, "transformer.transformer_body")
        return _linear(encoded[0], s, "decoder")
    outputs = []
    for name in sorted(x):
        tokens = _linear(x[name], s, f"encoders.{name}")
        if name not in SINGULAR:
            tokens = torch.cat([s[f"cls_vectors.{name}"][0], tokens])
            tokens = tokens + s[f"transformers.{name}.pos_encoder.pe"][: len(tokens), 0]
            tokens = _encoder(tokens, s, f"transformers.{name}.transformer_body")
        outputs.append(tokens[0])
    return _linear(torch.cat(outputs), s, "decoder")


def trailers(count: int = 7, seed: int = 1) -> list[dict[str, np.ndarray]]:
    """Longer than the lengths (equidistant cut), shorter (zero fill) and missing features."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(count):
        trailer = {}
        for name, dim in DIMS.items():
            n = 1 if name in SINGULAR else int(rng.integers(1, 3 * LENGTHS[name]))
            if (index + len(name)) % 4 == 0:
                n = 0  # no speech / no faces / no text: an empty feature
            trailer[name] = rng.normal(size=(n, dim)).astype(np.float32) * 3
        out.append(trailer)
    return out


def write_release(folder: Path, model: str, config: dict[str, Any], zenodo_names: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    state = their_state(model, config)
    weights, cfg = (
        (f"{model}.pt", f"{model}_config.pt") if zenodo_names else ("model.pt", "config.pt")
    )
    torch.save(state, folder / weights)
    torch.save(config, folder / cfg)
    torch.save(STATS, folder / "stats.pt")
    return state


@pytest.mark.parametrize("model", ["mlp", "single_transformer", "multi_transformer"])
@pytest.mark.parametrize(
    ("normalize", "standardize"), [(True, False), (False, True), (True, True), (False, False)]
)
def test_imported_head_predicts_as_their_model(
    tmp_path: Path, model: str, normalize: bool, standardize: bool
) -> None:
    config = their_config(model, normalize, standardize)
    state = write_release(tmp_path / "release", model, config)
    head = load_head(import_sulun2024(tmp_path / "release", tmp_path / "head"))
    assert head.label_names == GENRES
    assert head.feature_names == [f"sulun2024_{name}" for name in sorted(DIMS)]
    data = trailers()
    ours = predict_arrays(head, {f"sulun2024_{n}": [t[n] for t in data] for n in DIMS})
    theirs = torch.stack([their_logits(model, state, config, t) for t in data])
    np.testing.assert_allclose(ours, torch.sigmoid(theirs).numpy(), rtol=1e-4, atol=1e-5)
    recorded = head.provenance["imported"]
    assert recorded["record"] == "zenodo:13909366" and recorded["model"] == model
    assert len(recorded["files"]["weights"]["sha256"]) == 64


def test_cli_reads_their_download_layout(tmp_path: Path) -> None:
    """download_pretrained_classifiers.py saves `<model>/model.pt` + `config.pt`."""
    config = their_config("multi_transformer", True, False)
    write_release(tmp_path / "multi", "multi_transformer", config, zenodo_names=False)
    result = CliRunner().invoke(
        main,
        ["import-head", "sulun2024", str(tmp_path / "multi"), "--out", str(tmp_path / "h")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert load_head(tmp_path / "h").name == "multi-transformer"


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_malicious_config_is_refused_naming_the_global(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = their_config("mlp", True, False) | {"note": _RunsCode()}
    write_release(tmp_path / "release", "mlp", config)
    with pytest.raises(UnsafePickleError, match="system"):
        import_sulun2024(tmp_path / "release", tmp_path / "head")
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "head").exists()


def test_wrong_weights_and_missing_stats_are_named(tmp_path: Path) -> None:
    config = their_config("single_transformer", True, False)
    state = write_release(tmp_path / "release", "single_transformer", config)
    torch.save(
        {k: v for k, v in state.items() if k != "cls_vector"},
        tmp_path / "release" / "single_transformer.pt",
    )
    with pytest.raises(SulunImportError, match="cls_vector"):
        import_sulun2024(tmp_path / "release", tmp_path / "head")
    write_release(tmp_path / "release", "single_transformer", config)
    (tmp_path / "release" / "stats.pt").unlink()
    with pytest.raises(SulunImportError, match="--stats"):
        import_sulun2024(tmp_path / "release", tmp_path / "head")
    assert not (tmp_path / "head").exists()


def test_imported_head_evaluates_an_imported_store(tmp_path: Path) -> None:
    """Feature names, dims, labels and split of the head fit `import movienet-sulun2024`."""
    import json

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
    from release_fixtures import SULUN_DIMS, write_sulun_release

    from cinefeat.store.importers import import_release

    write_sulun_release(tmp_path / "data")
    import_release("movienet-sulun2024", tmp_path / "data", tmp_path / "mn.zarr")
    config = their_config("multi_transformer", True, False, dims=SULUN_DIMS)
    write_release(tmp_path / "release", "multi_transformer", config)
    import_sulun2024(tmp_path / "release", tmp_path / "head")
    result = CliRunner().invoke(
        main,
        ["--quiet", "evaluate", str(tmp_path / "mn.zarr"), "--head", str(tmp_path / "head"),
         "--out", str(tmp_path / "report"), "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["runs"][str(tmp_path / "head")]
    assert 0.0 <= summary["ap_macro"] <= 1.0
