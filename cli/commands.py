"""Commands that span components (`predict`, `embed-labels`, `demo`): the one place importing
both extract and fuse."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cinefeat.cli.demo import demo
from cinefeat.extract.cli import precision_option, resolve_extract_device
from cinefeat.store.cli_options import device_option, echo_result, json_option, store_argument
from cinefeat.store.errors import NO_LABELS
from cinefeat.store.exit_codes import batch_exit_code


@click.command("predict")
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--head",
    "head_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of a head from `cinefeat train` or `cinefeat zeroshot-train`.",
)
@click.option(
    "--labels",
    default=None,
    help='Zero-shot heads: label names to rank, e.g. "heist, space opera, coming-of-age".',
)
@click.option(
    "--top",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Labels to print per video (--json prints them all).",
)
@device_option
@precision_option
@click.option(
    "--batch-size",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    help="Frames or clips per forward pass of the extractors.",
)
@click.option(
    "--explain",
    "explain_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Transformer heads: save a contact sheet PNG of the most attended keyframes here.",
)
@json_option("every label of every video with its score")
def predict(
    videos: tuple[Path, ...],
    head_dir: Path,
    labels: str | None,
    top: int,
    device: str,
    fp16: bool | None,
    batch_size: int,
    explain_dir: Path | None,
    as_json: bool,
) -> None:
    """Extract what the head needs from each VIDEO (nothing written to disk) and rank its labels.

    Supervised heads give sigmoid probabilities of their own labels; zero-shot heads score any
    label names given with --labels. A head trained on features made by other models or samplers
    than this installation makes is refused, naming each difference. Exit code 3 when some videos
    failed, 4 when all did (docs/cli.md).
    """
    from cinefeat.cli.heads import PredictError, load_trained_head
    from cinefeat.cli.predict import load_recipe, predict_videos
    from cinefeat.store.console import progress

    device = resolve_extract_device(device)
    label_names = None
    if labels is not None:
        from cinefeat.fuse.zeroshot.labels import split_label_names

        label_names = split_label_names(labels)
        if not label_names:
            raise click.BadParameter("give at least one label name", param_hint="--labels")
    try:
        head = load_trained_head(head_dir, device=device)
        recipe = load_recipe(head, device=device, fp16=fp16)
        bar = progress(total=len(videos), unit="video", desc="predict")
        try:
            result = predict_videos(
                videos, head, recipe, device, batch_size, label_names, lambda: bar.update(1)
            )
        finally:
            bar.close()
        explained = {}
        if explain_dir is not None:
            from cinefeat.cli.explain import explain_videos

            explained = explain_videos(result, head, recipe, explain_dir)
    except (PredictError, ValueError, KeyError) as error:
        raise click.ClickException(str(error).strip("'\"")) from error
    if as_json:
        out = {
            "head": str(head_dir),
            "kind": result.kind,
            "threshold": result.threshold,
            "videos": [v.to_dict() | {"explain": explained.get(v.video)} for v in result.videos],
        }
        echo_result(out, as_json, "")
    else:
        _print_text(result, top, explained)
    failed = sum(v.status == "failed" for v in result.videos)
    code = batch_exit_code(ok=len(result.videos) - failed, failed=failed)
    if code:
        sys.exit(code)


def _print_text(result, top: int, explained: dict[str, str]) -> None:
    what = "probability" if result.kind == "probability" else f"score (M = {result.threshold:.3f})"
    for video in result.videos:
        length = f" ({video.duration_s:.1f} s)" if video.duration_s else ""
        if video.status != "ok":
            click.echo(f"{video.video}{length}: failed: {video.error}")
            continue
        click.echo(f"{video.video}{length}  [{what}]")
        width = max((len(n) for n, _ in video.labels[:top]), default=0)
        for name, score in video.labels[:top]:
            mark = " *" if result.threshold is not None and score > result.threshold else ""
            click.echo(f"  {name:<{width}}  {score:.3f}{mark}")
        for notice in video.notices:
            click.echo(f"  note: {notice}", err=True)
        if video.video in explained:
            click.echo(f"  attention contact sheet: {explained[video.video]}")


@click.command("embed-labels")
@store_argument
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="safetensors file to write (for --label-embeddings).",
)
@click.option("--encoder", default="minilm", show_default=True, help="Text encoder (registry).")
@click.option(
    "--multiword",
    type=click.Choice(["mean", "sentence"]),
    default="mean",
    show_default=True,
    help="Multi-word labels: mean of word embeddings (Dogan et al.) or the whole name.",
)
@device_option
@json_option("the labels embedded and the file")
def embed_labels_command(
    store_path: Path, out_file: Path, encoder: str, multiword: str, device: str, as_json: bool
) -> None:
    """Embed every label name of STORE for `cinefeat zeroshot-train --label-embeddings`."""
    from cinefeat.cli.label_embeddings import embed_labels
    from cinefeat.store import FeatureStore

    device = resolve_extract_device(device)
    names, _ = FeatureStore.open(store_path, read_only=True).labels()
    if not names:
        raise click.ClickException(f"{store_path}: {NO_LABELS}")
    embeddings = embed_labels(names, encoder, multiword, device)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    embeddings.save(out_file)
    answer = {"labels": names, "encoder": encoder, "dim": embeddings.dim, "out": str(out_file)}
    echo_result(
        answer,
        as_json,
        f"{len(names)} labels embedded with {encoder} ({embeddings.dim}-d) -> {out_file}",
    )


COMMANDS: list[click.Command] = [predict, embed_labels_command, demo]
