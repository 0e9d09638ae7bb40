"""`cinefeat embed | similar | suggest | similarity-tune` (gathered by fuse/zeroshot_cli.py).

Everything past click is imported inside the commands: `cinefeat --help` imports this module and
must not pay for numpy or torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cinefeat.store.cli_options import DeviceError, device_option, open_store, resolve_device
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


def _device(device: str | None) -> str:
    try:
        return resolve_device(device)
    except DeviceError as error:
        raise click.ClickException(str(error)) from error


@click.command("embed")
@click.argument("store_path", metavar="STORE")
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
def embed_command(
    store_path: str, head_dir: str, name: str | None, batch_size: int, device: str
) -> None:
    """Write one embedding per trailer (the head's layer before its classifier) into STORE."""
    from cinefeat.fuse.similarity.finetune import embed_all
    from cinefeat.fuse.similarity.store_io import embedding_provenance, write_embeddings

    store = open_store(store_path)
    device = _device(device)
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
    click.echo(f"wrote {written} embeddings ({vectors.shape[1]}-d) as feature {feature!r}")


@click.command("similar")
@click.argument("store_path", metavar="STORE")
@click.argument("trailer_id", metavar="ID")
@click.option("-k", "k", type=int, default=10, show_default=True, help="Neighbours to list.")
@click.option("--feature", default=None, help="Embedding feature (default: the one of `embed`).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def similar_command(
    store_path: str, trailer_id: str, k: int, feature: str | None, as_json: bool
) -> None:
    """The K trailers most similar to ID (exact cosine search over one embedding per trailer)."""
    from cinefeat.fuse.jsonout import json_text
    from cinefeat.fuse.similarity.search import SimilarityError
    from cinefeat.fuse.similarity.store_io import load_index

    store = open_store(store_path)
    try:
        index, feature = load_index(store, feature)
        neighbours = index.similar(trailer_id, k)
    except SimilarityError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        rows = [{"id": n.id, "similarity": n.similarity} for n in neighbours]
        click.echo(json_text({"query": trailer_id, "feature": feature, "neighbours": rows}, None))
        return
    for n in neighbours:
        click.echo(f"{n.similarity:.4f}\t{n.id}")


@click.command("suggest")
@click.argument("store_path", metavar="STORE")
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@device_option
def suggest_command(
    store_path: str, head_dir: str, threshold: float, as_json: bool, device: str
) -> None:
    """Labels the head predicts (p >= threshold) that a trailer's ground truth lacks (TSV)."""
    import numpy as np

    from cinefeat.fuse.jsonout import json_text
    from cinefeat.fuse.similarity.suggest import format_suggestions, suggest_labels
    from cinefeat.fuse.train import predict_proba

    store = open_store(store_path)
    head = load_any_head(head_dir, _device(device))
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
    if as_json:
        click.echo(json_text([s.to_dict() for s in found]))
    else:
        click.echo(format_suggestions(found))


@click.command("similarity-tune")
@click.argument("store_path", metavar="STORE")
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
) -> None:
    """NT-Xent fine-tuning of a head's embedding on trailer halves; writes the head + a report."""
    import numpy as np

    from cinefeat.fuse.checkpoint import save_head
    from cinefeat.fuse.jsonout import json_text
    from cinefeat.fuse.similarity.finetune import (
        ContrastiveConfig,
        contrastive_finetune,
        embed_all,
    )
    from cinefeat.fuse.similarity.report import similarity_report

    store = open_store(store_path)
    device = _device(device)
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
    click.echo(
        f"silhouette (cosine, primary label) {report['silhouette_before']:.3f} -> "
        f"{report['silhouette_after']:.3f}; head and map_after.png in {out_dir}"
    )


COMMANDS: list[click.Command] = [
    embed_command,
    similar_command,
    suggest_command,
    similarity_tune_command,
]
