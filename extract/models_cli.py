"""`cinefeat models list | download NAME... | verify | path NAME | add NAME FILE`.

Why a CLI over `pretrained.py`: on clusters, GPU nodes often have no internet; a login node runs
`download` into the shared `$CINEFEAT_CACHE` and jobs then load offline. `verify` rechecks every
cached file against its published (or first-use recorded) checksum before a long run, and says
which entries are only recorded, never published; `forget` drops a recorded hash when a publisher
that follows a moving branch (`resolve/main`) changed a file.
"""

from __future__ import annotations

import json
from types import ModuleType

import click


def _load_table() -> ModuleType:
    """`cinefeat.extract.pretrained` with every extractor's weights registered; imported here, not
    at the top, because `cinefeat --help` imports this module and must stay fast."""
    import cinefeat.extract.extractors  # noqa: F401  (registers every extractor's weights)
    from cinefeat.extract import pretrained

    return pretrained


@click.group("models")
def models() -> None:
    """Pretrained weights used by the extractors: list, download, verify, locate, add, forget."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def list_command(as_json: bool) -> None:
    """Every known weights entry: source, licence, checksum, and whether it is cached."""
    pretrained = _load_table()
    rows = []
    for entry in pretrained.list_weights():
        remote = entry.main_file
        path = pretrained.entry_dir(entry.name) / remote.filename
        local = entry.source if entry.description.startswith("local file") else None
        cached = (local is not None and __import__("os").path.exists(local)) or path.exists()
        rows.append(
            {
                "name": entry.name,
                "format": entry.format,
                "licence": entry.licence,
                "pinned": remote.sha256 is not None,
                "checksum": remote.checksum_kind,
                "checksum_value": _checksum_value(remote),
                "source": entry.source,
                "follows_main": any(f.follows_main for f in entry.files),
                "cached": cached,
                "size": remote.size,
                "url": remote.url,
                "description": entry.description,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for row in rows:
        flags = ("cached" if row["cached"] else "missing") + f", {row['checksum']}"
        if row["checksum"] == "recorded":
            flags += " (sha256 recorded on first download)"
        if row["follows_main"]:
            flags += ", follows `main` (no pinned revision)"
        click.echo(f"{row['name']:<36} {row['format']:<24} {flags}")
        click.echo(f"  {row['description']} [{row['licence']}]  {row['url'] or ''}")
        click.echo(f"  source: {row['source']}; checksum: {row['checksum_value']}")
    click.echo(
        "Also: any open_clip model as clip-<model>-<tag> (lower case, e.g. clip-vit-l-14-openai; "
        "pairs from open_clip.list_pretrained())."
    )


def _checksum_value(remote: object) -> str:
    """The published checksum itself (`sha256:<hex>`, `sha256-prefix:<hex>`, `md5:<hex>`), or
    `recorded` where the publisher gives none (the sha256 is recorded on first download)."""
    for kind in ("sha256", "sha256_prefix", "md5"):
        value = getattr(remote, kind)
        if value:
            return f"{kind.replace('_', '-')}:{value}"
    return "recorded"


@models.command("download")
@click.argument("names", nargs=-1, required=True)
def download_command(names: tuple[str, ...]) -> None:
    """Fetch NAMES into the cache (run on a machine with internet; share CINEFEAT_CACHE)."""
    pretrained = _load_table()
    for name in names:
        try:
            folder = pretrained.fetch_all(name, download=True)
        except (KeyError, pretrained.WeightsError) as error:
            raise click.ClickException(str(error).strip("'\"")) from None
        click.echo(f"{name}: {folder}")


@models.command("verify")
def verify_command() -> None:
    """Check every cached file against its checksum (records nothing); exit 1 if any differs."""
    pretrained = _load_table()
    bad = 0
    for entry in pretrained.list_weights():
        for remote in entry.files:
            state, detail = pretrained.file_status(entry, remote)
            bad += state == "bad"
            click.echo(f"{state:<10} {entry.name}/{remote.filename}: {detail}")
    if bad:
        raise SystemExit(1)


@models.command("path")
@click.argument("name")
def path_command(name: str) -> None:
    """Print the verified local path of NAME (its folder for multi-file entries; no download)."""
    pretrained = _load_table()
    try:
        entry = pretrained.get_weights(name)
        if len(entry.files) > 1:
            click.echo(str(pretrained.fetch_all(name, download=False)))
        else:
            click.echo(str(pretrained.fetch(name, download=False)))
    except (KeyError, pretrained.WeightsError) as error:
        raise click.ClickException(str(error).strip("'\"")) from None


@models.command("forget")
@click.argument("name")
def forget_command(name: str) -> None:
    """Drop NAME's first-use recorded hashes (after its publisher changed a file upstream)."""
    pretrained = _load_table()
    try:
        dropped = pretrained.forget(name)
    except KeyError as error:
        raise click.ClickException(str(error).strip("'\"")) from None
    click.echo(f"{name}: forgot {len(dropped)} recorded hash(es); the next download records anew")


@models.command("add")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--like", default=None, help="Copy format/licence/preprocessing from this entry.")
@click.option(
    "--format",
    "fmt",
    default="local",
    show_default=True,
    help="Weights format recorded for the entry (as in `cinefeat models list`).",
)
@click.option(
    "--licence", default="unknown", show_default=True, help="Licence recorded for the entry."
)
def add_command(name: str, file: str, like: str | None, fmt: str, licence: str) -> None:
    """Register a local FILE (a fine-tune, a mirror) under NAME with its sha256."""
    pretrained = _load_table()
    try:
        entry = pretrained.add_local(name, file, format=fmt, licence=licence, like=like)
    except (KeyError, pretrained.WeightsError) as error:
        raise click.ClickException(str(error).strip("'\"")) from None
    click.echo(f"{entry.name}: {entry.source} sha256 {entry.main_file.sha256}")
