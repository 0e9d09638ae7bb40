"""`cinefeat models list | download NAME... | verify | path NAME | add NAME FILE`.

Why a CLI over `pretrained.py`: on clusters, GPU nodes often have no internet; a login node runs
`download` into the shared `$CINEFEAT_CACHE` and jobs then load offline. `verify` rechecks every
cached file against its published (or first-use recorded) checksum before a long run, and says
which entries are only recorded, never published; `forget` drops a recorded hash when a publisher
that follows a moving branch (`resolve/main`) changed a file.
"""

from __future__ import annotations

from types import ModuleType

import click

from cinefeat.store.cli_options import echo_result, json_option
from cinefeat.store.exit_codes import EXIT_ERROR


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
@json_option("the entries")
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
        echo_result(rows, as_json, "")
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
@json_option("each name's folder")
def download_command(names: tuple[str, ...], as_json: bool) -> None:
    """Fetch NAMES into the cache (run on a machine with internet; share CINEFEAT_CACHE)."""
    pretrained = _load_table()
    folders = {}
    for name in names:
        try:
            folders[name] = str(pretrained.fetch_all(name, download=True))
        except (KeyError, pretrained.WeightsError) as error:
            raise click.ClickException(str(error).strip("'\"")) from None
        if not as_json:  # one line as each download ends: they can take minutes
            click.echo(f"{name}: {folders[name]}")
    if as_json:
        echo_result(folders, as_json, "")


@models.command("verify")
@json_option("each file's state")
def verify_command(as_json: bool) -> None:
    """Check every cached file against its checksum (records nothing); exit 1 if any differs."""
    pretrained = _load_table()
    files = []
    for entry in pretrained.list_weights():
        for remote in entry.files:
            state, detail = pretrained.file_status(entry, remote)
            files.append({"entry": entry.name, "file": remote.filename, "state": state})
            files[-1]["detail"] = detail
    text = "\n".join(f"{f['state']:<10} {f['entry']}/{f['file']}: {f['detail']}" for f in files)
    echo_result(files, as_json, text)
    if any(f["state"] == "bad" for f in files):
        raise SystemExit(EXIT_ERROR)


@models.command("path")
@click.argument("name")
@json_option("the name and its path")
def path_command(name: str, as_json: bool) -> None:
    """Print the verified local path of NAME (its folder for multi-file entries; no download)."""
    pretrained = _load_table()
    try:
        entry = pretrained.get_weights(name)
        if len(entry.files) > 1:
            path = str(pretrained.fetch_all(name, download=False))
        else:
            path = str(pretrained.fetch(name, download=False))
    except (KeyError, pretrained.WeightsError) as error:
        raise click.ClickException(str(error).strip("'\"")) from None
    echo_result({"name": name, "path": path}, as_json, path)


@models.command("forget")
@click.argument("name")
@json_option("the hashes dropped")
def forget_command(name: str, as_json: bool) -> None:
    """Drop NAME's first-use recorded hashes (after its publisher changed a file upstream)."""
    pretrained = _load_table()
    try:
        dropped = pretrained.forget(name)
    except KeyError as error:
        raise click.ClickException(str(error).strip("'\"")) from None
    echo_result(
        {"name": name, "forgotten": list(dropped)},
        as_json,
        f"{name}: forgot {len(dropped)} recorded hash(es); the next download records anew",
    )


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
@json_option("the entry added")
def add_command(
    name: str, file: str, like: str | None, fmt: str, licence: str, as_json: bool
) -> None:
    """Register a local FILE (a fine-tune, a mirror) under NAME with its sha256."""
    pretrained = _load_table()
    try:
        entry = pretrained.add_local(name, file, format=fmt, licence=licence, like=like)
    except (KeyError, pretrained.WeightsError) as error:
        raise click.ClickException(str(error).strip("'\"")) from None
    echo_result(
        {"name": entry.name, "source": str(entry.source), "sha256": entry.main_file.sha256},
        as_json,
        f"{entry.name}: {entry.source} sha256 {entry.main_file.sha256}",
    )
