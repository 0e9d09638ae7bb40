"""How well an embedding separates trailers: silhouette w.r.t. the primary label, and a 2-D map.

The silhouette score (cosine distance) before and after contrastive fine-tuning says whether the
fine-tuned space still groups trailers by genre; the t-SNE map, coloured by primary label, lets a
curator see the clusters and the trailers between them.

The store keeps labels as a multi-hot set, so "primary" needs a rule: by default the trailer's
*rarest* label (Drama + Western -> Western), the most specific one; `primary="most-frequent"`
takes the commonest instead. Trailers without a label are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from cinefeat.fuse.jsonout import json_text

Primary = Literal["rarest", "most-frequent"]


def primary_labels(targets: np.ndarray, rule: Primary = "rarest") -> np.ndarray:
    """(N,) index of each trailer's primary label; -1 for a trailer without labels."""
    truth = np.asarray(targets) > 0.5
    counts = truth.sum(axis=0).astype(np.float64)
    if rule not in ("rarest", "most-frequent"):
        raise ValueError(f"primary rule must be 'rarest' or 'most-frequent', got {rule!r}")
    key = counts if rule == "rarest" else -counts
    ranked = np.where(truth, key[None, :], np.inf)
    primary = np.argmin(ranked, axis=1)
    return np.where(truth.any(axis=1), primary, -1)


def silhouette(embeddings: np.ndarray, primary: np.ndarray, max_points: int = 10000) -> float:
    """Cosine silhouette of labelled trailers (NaN when fewer than 2 labels are present)."""
    from sklearn.metrics import silhouette_score

    keep = primary >= 0
    if len(np.unique(primary[keep])) < 2:
        return float("nan")
    sample = min(int(keep.sum()), max_points)
    return float(
        silhouette_score(
            embeddings[keep], primary[keep], metric="cosine", sample_size=sample, random_state=0
        )
    )


def map_2d(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE coordinates (N, 2) on cosine distances (UMAP is not a base dependency)."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(embeddings) - 1) / 3)))
    tsne = TSNE(2, metric="cosine", init="pca", perplexity=perplexity, random_state=seed)
    return tsne.fit_transform(np.asarray(embeddings, dtype=np.float32))


def plot_map(
    coordinates: np.ndarray,
    primary: np.ndarray,
    label_names: Sequence[str],
    path: str | Path,
    title: str,
) -> Path:
    """A PNG scatter of the 2-D map, one colour per primary label (legend included)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 7), dpi=100)
    # 40 distinct colours: MovieNet's 21 genres must not share one (tab20 alone repeats at 20)
    palette = [*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors]
    for index in np.unique(primary[primary >= 0]):
        points = coordinates[primary == index]
        axes.scatter(
            points[:, 0],
            points[:, 1],
            s=6,
            color=palette[index % len(palette)],
            label=label_names[index],
        )
    axes.set_title(title)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.legend(markerscale=3, fontsize=7, loc="best")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path


def similarity_report(
    before: np.ndarray,
    after: np.ndarray,
    targets: np.ndarray,
    label_names: Sequence[str],
    out_dir: str | Path,
    primary_rule: Primary = "rarest",
    max_map_points: int = 5000,
) -> dict:
    """Silhouette before/after and `map_after.png` (t-SNE of the fine-tuned embedding)."""

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    primary = primary_labels(targets, primary_rule)
    rng = np.random.default_rng(0)
    labelled = np.flatnonzero(primary >= 0)
    shown = np.sort(rng.choice(labelled, min(len(labelled), max_map_points), replace=False))
    plot_map(
        map_2d(after[shown]),
        primary[shown],
        label_names,
        out / "map_after.png",
        "t-SNE of the fine-tuned embedding, coloured by primary label",
    )
    report = {
        "silhouette_before": silhouette(before, primary),
        "silhouette_after": silhouette(after, primary),
        "primary_rule": primary_rule,
        "trailers": len(labelled),
        "map": "map_after.png",
    }
    (out / "similarity_report.json").write_text(json_text(report))
    return report
