"""`cinefeat import FORMAT SOURCE --store OUT`: a published feature release -> a store (cli.main).

The formats are the entries of `cinefeat.store.importers.IMPORTERS` (docs/importing.md);
`--option key=value` passes an importer's options (`cinefeat import --list` shows them).
`--download DIR` first fetches the release by name (`store/importers/releases.json`) into DIR and
imports from there: an option of `import` rather than a `fetch`-like command of its own, because
the release names are the import formats and the download exists only to be imported (`cinefeat
fetch` is for cinefeat's own archives, which open as stores without an import).
"""

from __future__ import annotations

import typing
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from cinefeat.store.cli import _user_errors
from cinefeat.store.cli_options import echo_result, json_option
from cinefeat.store.registry import Option


@click.command(name="import")
@click.argument("format", required=False)
@click.argument("source", type=click.Path(path_type=Path, exists=True), required=False)
@click.option("--store", "out", type=click.Path(path_type=Path), help="Store to write (created).")
@click.option(
    "-o", "--option", "options", multiple=True, metavar="KEY=VALUE", help="An importer option."
)
@click.option(
    "--download",
    "download_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Download the release FORMAT names into this folder (resuming, verified), then import "
    "from it; without --store, only download.",
)
@click.option(
    "--file",
    "files",
    multiple=True,
    metavar="NAME",
    help="With --download: fetch this file of the release (repeat; default: what import reads).",
)
@click.option(
    "--keep-archives", is_flag=True, help="With --download: keep .tar.gz after unpacking."
)
@click.option("--list", "list_formats", is_flag=True, help="List the formats and their options.")
@json_option("the summary")
@_user_errors
def import_command(
    format: str | None,
    source: Path | None,
    out: Path | None,
    options: tuple[str, ...],
    download_dir: Path | None,
    files: tuple[str, ...],
    keep_archives: bool,
    list_formats: bool,
    as_json: bool,
) -> None:
    """Import the release at SOURCE (folder or main file) in FORMAT into the store --store.

    Formats: movienet-sulun2024 (Sulun et al. 2024 features.pkl), trailers12k (DIViTA csv +
    zarr groups), video-features (v-iashin/video_features outputs), npy-dir (one .npy per
    trailer), h5 (one HDF5 file). Labels and the release's splits are stored
    too; rerunning skips what is already there. Example:
    `cinefeat import movienet-sulun2024 data/ --store mn.zarr`, or with the download:
    `cinefeat import movienet-sulun2024 --download data/ --store mn.zarr`.
    """
    from cinefeat.store.importers import IMPORTERS, import_release
    from cinefeat.store.importers.releases import download_release, releases

    if list_formats:
        known = releases()
        for entry in IMPORTERS.list():
            click.echo(f"{entry.name}: {entry.description}")
            for option in entry.options:
                click.echo(f"    -o {option.name}=<{option.type}> (default {option.default!r})")
            if entry.name in known:
                release_files = known[entry.name].files
                names = ", ".join(f.name for f in release_files if f.default)
                click.echo(f"    --download DIR: {known[entry.name].record} ({names})")
                others = ", ".join(f.name for f in release_files if not f.default)
                if others:
                    click.echo(f"    --file NAME: {others}")
        return
    if format is not None and download_dir is not None:
        if source is not None:
            raise click.UsageError("give SOURCE or --download DIR, not both")
        parse_options(IMPORTERS.options(format), options)  # bad options fail before downloading
        report = download_release(format, download_dir, files=files, keep_archives=keep_archives)
        if out is None:  # only the download: it is the result
            echo_result(asdict(report), as_json, report.format_text)
            return
        click.echo(report.format_text(), err=as_json)  # stdout stays one JSON document
        source = download_dir
    if format is None or source is None or out is None:
        raise click.UsageError(
            "give FORMAT, SOURCE (or --download DIR) and --store OUT (or --list)"
        )
    parsed = parse_options(IMPORTERS.options(format), options)
    summary = import_release(format, source, out, **parsed)
    echo_result(summary.to_dict(), as_json, summary.format_text)


def parse_options(declared: tuple[Option, ...], given: tuple[str, ...]) -> dict[str, Any]:
    """`key=value` texts -> typed keywords (lists: comma-separated; bools: true/false)."""
    by_name = {o.name.replace("_", "-"): o for o in declared}
    out: dict[str, Any] = {}
    for text in given:
        key, sep, value = text.partition("=")
        option = by_name.get(key.strip().replace("_", "-"))
        if not sep or option is None:
            choices = ", ".join(sorted(by_name)) or "(none)"
            raise click.BadParameter(f"{text!r}: expected KEY=VALUE with KEY one of {choices}")
        out[option.name] = _typed(option, value.strip())
    return out


def _typed(option: Option, value: str) -> Any:
    hint = option.hint
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    target = typing.get_origin(args[0]) or args[0]
    if target is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise click.BadParameter(f"{option.name}: expected true or false, got {value!r}")
        return value.lower() in ("true", "1", "yes")
    if target is list:
        return [v.strip() for v in value.split(",") if v.strip()]
    if target is int:
        return int(value)
    return value


COMMANDS: list[click.Command] = [import_command]
