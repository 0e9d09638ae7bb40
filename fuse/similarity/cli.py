"""`cinefeat embed | similar | suggest | similarity-tune` (gathered by fuse/zeroshot_cli.py).

Everything past click is imported inside the commands: `cinefeat --help` imports this module and
must not pay for numpy or torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cinefeat.store.cli_options import (
    device_option,
    echo_result,
    json_option,
    open_store,
    resolve_device,
    store_argument,
)
from cinefeat.store.errors import NO_LABELS

# = cinefeat.fuse.similarity.suggest.DEFAULT_THRESHOLD (a test keeps them equal); a literal so
# that defining the option does not import numpy.
SUGGEST_THRESHOLD = 0.30


def load_any_head(head_dir: str, device: str) -> Any:
    """A head folder of `cinefeat train`, `similarity-tune` or `zeroshot-train` (one loader)."""
    from cinefeat.fuse.checkpoint import load_head

    try:
        return load_head(head_dir, device)
    except ValueError as error:
        raise click.ClickException(str(error)) from error


def head_data(store: Any, head: Any, ids: list[str]) -> Any:
    """What `head` reads of `store` for `ids` (`cinefeat.fuse.store_data.head_inputs`)."""
    from cinefeat.fuse.store_data import head_inputs

    return head_inputs(store, head, ids)


@click.command("embed")
@store_argument
@click.option(
    "--head",
    "head_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder of a head from `cinefeat train`, `similarity-tune` or `zeroshot-train`.",
)
@click.option("--name", default=None, help="Feature name to write (default: embed-<head folder>).")
@click.option(
    "--batch-size", type=int, default=256, show_default=True, help="Trailers per forward pass."
)
@device_option
@json_option("the feature written")
def embed_command(
    store_path: str, head_dir: str, name: str | None, batch_size: int, device: str, as_json: bool
) -> None:
    """Write one embedding per trailer (the head's layer before its classifier) into STORE."""
    from cinefeat.fuse.similarity.finetune import embed_all
    from cinefeat.fuse.similarity.store_io import embedding_provenance, write_embeddings

    store = open_store(store_path)
    device = resolve_device(device)
    head = load_any_head(head_dir, device)
    features = head.feature_names
    ids = sorted(set(store.ids(status="ok")).intersection(*(store.committed(f) for f in features)))
    if not ids:
        raise click.ClickException(
            f"no ok trailer of {store_path} has all of {features}: extract them first"
        )
    vectors = embed_all(head, head_data(store, head, ids), batch_size, device)
    feature = name or f"embed-{Path(head_dir).resolve().name}"
    provenance = embedding_provenance(Path(head_dir), head, store, features)
    written = write_embeddings(store, feature, ids, vectors, provenance)
    echo_result(
        {"feature": feature, "embeddings": written, "dim": int(vectors.shape[1])},
        as_json,
        f"wrote {written} embeddings ({vectors.shape[1]}-d) as feature {feature!r}",
    )


@click.command("similar")
@store_argument
@click.argument("trailer_id", metavar="ID")
@click.option("-k", "k", type=int, default=10, show_default=True, help="Neighbours to list.")
@click.option("--feature", default=None, help="Embedding feature (default: the one of `embed`).")
@json_option()
def similar_command(
    store_path: str, trailer_id: str, k: int, feature: str | None, as_json: bool
) -> None:
    """The K trailers most similar to ID (exact cosine search over one embedding per trailer)."""
    from cinefeat.fuse.similarity.store_io import load_index

    store = open_store(store_path)
    index, feature = load_index(store, feature)  # SimilarityError names the fix (cli.main)
    neighbours = index.similar(trailer_id, k)
    rows = [{"id": n.id, "similarity": n.similarity} for n in neighbours]
    echo_result(
        {"query": trailer_id, "feature": feature, "neighbours": rows},
        as_json,
        "\n".join(f"{n.similarity:.4f}\t{n.id}" for n in neighbours),
    )


@click.command("suggest")
@store_argument
@click.option(
    "--head",
    "head_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder of a head from `cinefeat train` trained on this store's labels.",
)
@click.option(
    "--threshold",
    type=float,
    default=SUGGEST_THRESHOLD,
    show_default=True,
    help="Probability from which a missing label is suggested.",
)
@json_option()
@device_option
def suggest_command(
    store_path: str, head_dir: str, threshold: float, as_json: bool, device: str
) -> None:
    """Labels the head predicts (p >= threshold) that a trailer's ground truth lacks (TSV)."""
    import numpy as np

    from cinefeat.fuse.similarity.suggest import format_suggestions, suggest_labels
    from cinefeat.fuse.train import predict_proba

    store = open_store(store_path)
    head = load_any_head(head_dir, resolve_device(device))
    names, labels = store.labels()
    if not labels:
        raise click.ClickException(NO_LABELS)
    position = {n: i for i, n in enumerate(names)}
    unknown = [n for n in head.label_names if n not in position]
    if unknown:
        raise click.ClickException(
            f"head labels {unknown} are not labels of the store: use a head trained on this store"
        )
    ids = sorted(set(labels).intersection(*(store.committed(f) for f in head.feature_names)))
    probabilities = predict_proba(head, head_data(store, head, ids))
    columns = [position[n] for n in head.label_names]
    truth = np.stack([labels[t][columns] for t in ids]) if ids else np.zeros((0, len(columns)))
    found = suggest_labels(ids, probabilities, truth, head.label_names, threshold)
    echo_result([s.to_dict() for s in found], as_json, lambda: format_suggestions(found))


@click.command("similarity-tune")
@store_argument
@click.option(
    "--head",
    "head_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder of a head from `cinefeat train` whose embedding is fine-tuned.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the tuned head, similarity_report.json and the 2-D maps.",
)
@click.option("--epochs", type=int, default=20, show_default=True, help="Passes over the trailers.")
@click.option(
    "--batch-size",
    type=int,
    default=64,
    show_default=True,
    help="Trailers per batch (each gives two views; the others are the negatives).",
)
@click.option("--lr", type=float, default=1e-4, show_default=True, help="Learning rate.")
@click.option(
    "--temperature", type=float, default=0.5, show_default=True, help="NT-Xent temperature."
)
@click.option(
    "--primary",
    type=click.Choice(["rarest", "most-frequent"]),
    default="rarest",
    show_default=True,
    help="Which of a trailer's labels colours it in the silhouette score and the 2-D map.",
)
@device_option
@json_option("the report")
def similarity_tune_command(
    store_path: str,
    head_dir: str,
    out_dir: str,
    epochs: int,
    batch_size: int,
    lr: float,
    temperature: float,
    primary: str,
    device: str,
    as_json: bool,
) -> None:
    """NT-Xent fine-tuning of a head's embedding on trailer halves; writes the head + a report."""
    import numpy as np

    from cinefeat.fuse.checkpoint import save_head
    from cinefeat.fuse.similarity.finetune import (
        ContrastiveConfig,
        contrastive_finetune,
        embed_all,
    )
    from cinefeat.fuse.similarity.report import similarity_report
    from cinefeat.store.jsonout import json_text

    store = open_store(store_path)
    device = resolve_device(device)
    head = load_any_head(head_dir, device)
    names, labels = store.labels()
    ids = sorted(set(labels).intersection(*(store.committed(f) for f in head.feature_names)))
    if len(ids) < 2:
        raise click.ClickException("contrastive tuning needs at least 2 labelled trailers")
    data = head_data(store, head, ids)
    before = embed_all(head, data, device=device)
    config = ContrastiveConfig(epochs, batch_size, lr, temperature=temperature, device=device)
    history = contrastive_finetune(head, data, config)
    after = embed_all(head, data, device=device)
    save_head(head, out_dir)
    targets = np.stack([labels[t] for t in ids])
    report = similarity_report(before, after, targets, names, out_dir, primary)  # type: ignore[arg-type]
    report["nt_xent_per_epoch"] = history
    (Path(out_dir) / "similarity_report.json").write_text(json_text(report))
    echo_result(
        {"out": str(out_dir), **report},
        as_json,
        f"silhouette (cosine, primary label) {report['silhouette_before']:.3f} -> "
        f"{report['silhouette_after']:.3f}; head and map_after.png in {out_dir}",
    )


COMMANDS: list[click.Command] = [
    embed_command,
    similar_command,
    suggest_command,
    similarity_tune_command,
]
