"""Named presets: `HEAD:PAPER` reproduces one paper's configuration of a head.

A preset is only a set of `--set` values, so a head trained with `--arch mlp:sulun2024` is an
ordinary `mlp` head whose saved config shows every value the preset chose; `--set` given with a
preset overrides it. Each entry names the public code its values were read from, so a reader can
check them (docs/heads/*.md: "paper says / cinefeat does / option").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cinefeat.fuse.heads.base import HeadConfigError
from cinefeat.store.registry import Registry


@dataclass(frozen=True)
class Preset:
    """A head name and the options it sets; called with overrides -> (head, merged options)."""

    head: str
    options: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __call__(self, **overrides: Any) -> tuple[str, dict[str, Any]]:
        return self.head, {**self.options, **overrides}


PRESETS: Registry[tuple[str, dict[str, Any]]] = Registry("preset", unknown=HeadConfigError)

_TABLE: dict[str, Preset] = {
    # serkansulun/movie-genre-classification, classification/src/classifiers.py (`MLP`: sizes
    # [input] + [d]*(n_layers-1) + [labels], so n_layers=1 is a single Linear, no dropout) and
    # config.py (n_layers 1, dropout 0).
    "mlp:sulun2024": Preset(
        "mlp", {"layers": 0, "dropout": 0.0}, "serkansulun/movie-genre-classification"
    ),
    # Same repository, classifiers.py: `Transformer` builds TransformerEncoder(..., norm=LayerNorm);
    # dataset.py + utils.py `equidistant_indices`: sequences longer than the length cap are
    # subsampled at round(linspace(0, L-1, cap)) (train, val and test alike), so the training
    # crop is `equidistant` too (`default_crop`: what `--crop` falls back to).
    "single-transformer:sulun2024": Preset(
        "single-transformer",
        {"final_norm": True, "long_sequences": "equidistant", "crop": "equidistant"},
        "serkansulun/movie-genre-classification",
    ),
    "multi-transformer:sulun2024": Preset(
        "multi-transformer",
        {"final_norm": True, "long_sequences": "equidistant", "crop": "equidistant"},
        "serkansulun/movie-genre-classification",
    ),
    # Fish et al.'s MMX-Trailer-20 code, `CollaborativeGating` (models/*.py of their repository):
    # per scene (clip), every expert is brought to 2048-d and gated by the others, the gated
    # experts are summed and pass a gated embedding unit Linear(2048, 1024) + L2 norm; the
    # transformer over scenes uses seq_len 5 by default (`PositionalEncoding(max_len=5)`).
    "gated:fish2020": Preset(
        "gated",
        {"gate_per": "clip", "clips": 5, "d_model": 2048, "fusion": "sum", "fused_dim": 1024},
        "Fish, Weinbren, Gilbert 2020 (MMX-Trailer-20)",
    ),
    # Cai et al.'s feature compression: a step joins the current group when it is similar to the
    # group's merged (max-pooled) vector, not to its neighbour.
    "hierarchical:cai": Preset("hierarchical", {"compression": "running"}, "Cai et al."),
    # richardtml/DIViTA: feed-forward 6 x d in the clip transformer; all features of a trailer
    # come from the same clips, so a window covers the same clips in every feature.
    "clip-aggregation:divita": Preset(
        "clip-aggregation", {"ff_mult": 6, "aligned_windows": True}, "richardtml/DIViTA"
    ),
}
for _name, _preset in _TABLE.items():
    PRESETS.add(_name, _preset, f"{_preset.head} as in {_preset.source}")


def resolve(name: str, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(head name, options) for a head or preset name; explicit options win over the preset's."""
    options = dict(options or {})
    if ":" not in name:
        return name, options
    return PRESETS.create(name, **options)
