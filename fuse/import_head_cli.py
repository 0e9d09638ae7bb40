"""`cinefeat import-head RELEASE FOLDER --out HEAD`: a published pretrained head as a head folder.

Mounted from `cinefeat.fuse.cli.COMMANDS`. Only `sulun2024` exists (Sulun et al.'s three genre
classifiers, `cinefeat.fuse.import_sulun2024`); the mapping code is imported when the
command runs, so `cinefeat --help` does not import torch.
"""

from __future__ import annotations

import click

from cinefeat.store.cli_options import echo_result, json_option

RELEASES = {"sulun2024": "Sulun et al. 2024 mlp / single_transformer / multi_transformer (.pt)"}
MODELS = ("mlp", "single_transformer", "multi_transformer")


@click.command("import-head")
@click.argument("release", type=click.Choice(sorted(RELEASES)))
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(), help="Folder for the cinefeat head.")
@click.option(
    "--model",
    type=click.Choice(MODELS),
    default=None,
    help="Which of their checkpoints in FOLDER (needed when it holds several).",
)
@click.option(
    "--stats",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Their preprocessing/data/stats.pt (or features.pkl) for a head trained --normalize or "
    "--standardize; default FOLDER/stats.pt when present.",
)
@click.option(
    "--prefix",
    default="sulun2024",
    show_default=True,
    help="Feature name prefix, as given to `cinefeat import movienet-sulun2024`.",
)
@json_option("the written head folder and its source")
def import_head_command(
    release: str,
    folder: str,
    out: str,
    model: str | None,
    stats: str | None,
    prefix: str,
    as_json: bool,
) -> None:
    """Convert a published pretrained head in FOLDER into the head folder OUT.

    `cinefeat import-head sulun2024 output/ --model multi_transformer --stats stats.pt --out
    heads/sulun-multi`, then `cinefeat evaluate mn.zarr --head heads/sulun-multi`.
    """
    from cinefeat.fuse.import_sulun2024 import import_sulun2024

    # CheckpointError / StoreError are CinefeatErrors: `cinefeat.cli.main` reports them
    written = import_sulun2024(folder, out, model=model, stats=stats, prefix=prefix)
    result = {"head": str(written), "release": release, "source": RELEASES[release]}
    echo_result(result, as_json, f"wrote {written} ({RELEASES[release]})")


COMMANDS: list[click.Command] = [import_head_command]
