"""`cinefeat import FORMAT SOURCE --store OUT`: a published feature release -> a store (cli.main).

The formats are the entries of `cinefeat.store.importers.IMPORTERS` (docs/importing.md);
`--option key=value` passes an importer's options (`cinefeat import --list` shows them).
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import click

from cinefeat.store.cli import _user_errors
from cinefeat.store.registry import Option


@click.command(name="import")
@click.argument("format", required=False)
@click.argument("source", type=click.Path(path_type=Path, exists=True), required=False)
@click.option("--store", "out", type=click.Path(path_type=Path), help="Store to write (created).")
@click.option(
    "-o", "--option", "options", multiple=True, metavar="KEY=VALUE", help="An importer option."
)
@click.option("--list", "list_formats", is_flag=True, help="List the formats and their options.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_user_errors
def import_command(
    format: str | None,
    source: Path | None,
    out: Path | None,
    options: tuple[str, ...],
    list_formats: bool,
    as_json: bool,
) -> None:
    """Import the release at SOURCE (folder or main file) in FORMAT into the store --store.

    Formats: movienet-sulun2024 (Sulun et al. 2024 features.pkl), trailers12k (DIViTA csv +
    zarr groups), video-features (v-iashin/video_features outputs), npy-dir (one .npy per
    trailer). Labels and the release's splits are stored
    too; rerunning skips what is already there. Example:
    `cinefeat import movienet-sulun2024 data/ --store mn.zarr`.
    """
    from cinefeat.store.importers import IMPORTERS, import_release

    if list_formats:
        for entry in IMPORTERS.list():
            click.echo(f"{entry.name}: {entry.description}")
            for option in entry.options:
                click.echo(f"    -o {option.name}=<{option.type}> (default {option.default!r})")
        return
    if format is None or source is None or out is None:
        raise click.UsageError("give FORMAT, SOURCE and --store OUT (or --list)")
    parsed = parse_options(IMPORTERS.options(format), options)
    summary = import_release(format, source, out, **parsed)
    click.echo(json.dumps(summary.to_dict(), indent=2) if as_json else summary.format_text())


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
