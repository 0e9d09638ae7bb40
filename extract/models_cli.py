"""`cinefeat models list | download NAME... | verify | path NAME | add NAME FILE`.

Why a CLI over `pretrained.py`: on clusters, GPU nodes often have no internet; a login node runs
`download` into the shared `$CINEFEAT_CACHE` and jobs then load offline. `verify` rechecks every
cached file against its pinned (or first-use recorded) sha256 before a long run.
"""

from __future__ import annotations

import json

import click

from cinefeat.extract import pretrained


def _load_table() -> None:
    import cinefeat.extract.extractors  # noqa: F401  (registers every extractor's weights)


@click.group("models")
def models() -> None:
    """Pretrained weights used by the extractors: list, download, verify, locate, add."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_command(as_json: bool) -> None:
    """Every known weights entry, whether it is cached, and whether its sha256 is pinned."""
    _load_table()
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
        flags = ("cached" if row["cached"] else "missing") + (
            "" if row["pinned"] else ", unpinned (sha256 recorded on first download)"
        )
        click.echo(f"{row['name']:<36} {row['format']:<24} {flags}")
        click.echo(f"  {row['description']} [{row['licence']}]  {row['url'] or ''}")


@models.command("download")
@click.argument("names", nargs=-1, required=True)
def download_command(names: tuple[str, ...]) -> None:
    """Fetch NAMES into the cache (run on a machine with internet; share CINEFEAT_CACHE)."""
    _load_table()
    for name in names:
        try:
            folder = pretrained.fetch_all(name, download=True)
        except (KeyError, pretrained.WeightsError) as error:
            raise click.ClickException(str(error).strip("'\"")) from None
        click.echo(f"{name}: {folder}")


@models.command("verify")
def verify_command() -> None:
    """Check every cached file against its sha256; exit 1 if any differs."""
    _load_table()
    bad = 0
    for entry in pretrained.list_weights():
        for remote in entry.files:
            try:
                path = pretrained.fetch(entry.name, remote.filename, download=False)
            except pretrained.WeightsNotFound:
                click.echo(f"missing  {entry.name}/{remote.filename}")
                continue
            except pretrained.ChecksumMismatch as error:
                bad += 1
                click.echo(f"BAD      {entry.name}/{remote.filename}: {error}")
                continue
            click.echo(f"ok       {entry.name}/{remote.filename} ({path})")
    if bad:
        raise SystemExit(1)


@models.command("path")
@click.argument("name")
def path_command(name: str) -> None:
    """Print the verified local path of NAME's main file (no download)."""
    _load_table()
    try:
        click.echo(str(pretrained.fetch(name, download=False)))
    except (KeyError, pretrained.WeightsError) as error:
        raise click.ClickException(str(error).strip("'\"")) from None


@models.command("add")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--like", default=None, help="Copy format/licence/preprocessing from this entry.")
@click.option("--format", "fmt", default="local", show_default=True)
@click.option("--licence", default="unknown", show_default=True)
def add_command(name: str, file: str, like: str | None, fmt: str, licence: str) -> None:
    """Register a local FILE (a fine-tune, a mirror) under NAME with its sha256."""
    _load_table()
    try:
        entry = pretrained.add_local(name, file, format=fmt, licence=licence, like=like)
    except (KeyError, pretrained.WeightsError) as error:
        raise click.ClickException(str(error).strip("'\"")) from None
    click.echo(f"{entry.name}: {entry.source} sha256 {entry.main_file.sha256}")
