"""`cinefeat store info | open | validate | compact | export-hdf5 | import-hdf5` (for cli.main).

Every command that reads takes a store directory, a `.zip` store, or a feature archive folder
(`cinefeat archive` / `cinefeat fetch`, zipped or extracted).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from cinefeat.store.archive.errors import ArchiveError
from cinefeat.store.errors import StoreError

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(func: F) -> F:
    """Store errors carry a message that names the fix: show it without a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (StoreError, ArchiveError, KeyError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            raise click.ClickException(str(message)) from error

    return wrapper  # type: ignore[return-value]


STORE = click.Path(path_type=Path)


@click.group(name="store")
def store_group() -> None:
    """Inspect, check and convert a feature store (format: docs/store-format.md)."""


@store_group.command()
@click.argument("path", type=STORE)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_user_errors
def info(path: Path, as_json: bool) -> None:
    """Trailers, features, labels, splits and disk usage of the store at PATH."""
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.info import format_info, store_info

    summary = store_info(FeatureStore.open(path, read_only=True))
    click.echo(json.dumps(summary, indent=2) if as_json else format_info(summary))


@store_group.command()
@click.argument("path", type=STORE)
@click.option("--toml", "toml_run", metavar="RUN", help="Print RUN's settings as a --config file.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_user_errors
def runs(path: Path, toml_run: str | None, as_json: bool) -> None:
    """The runs that wrote the store at PATH, with the settings each recorded."""
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.job_config import to_toml

    configs = FeatureStore.open(path, read_only=True).run_configs()
    if toml_run is not None:
        if toml_run not in configs:
            raise click.ClickException(
                f"no recorded settings for run {toml_run!r}; runs with settings: "
                f"{', '.join(sorted(configs)) or 'none'}"
            )
        click.echo(to_toml(configs[toml_run]), nl=False)
        return
    if as_json:
        click.echo(json.dumps(configs, indent=2))
        return
    for run, config in sorted(configs.items()):
        from_file = f", from {config['config_file']}" if config.get("config_file") else ""
        click.echo(f"{run}\t{config.get('command')} (cinefeat {config.get('cinefeat')}{from_file})")


@store_group.command(name="open")
@click.argument("path", type=STORE)
@click.option(
    "--verify",
    type=click.Choice(["full", "size", "none"]),
    default="full",
    show_default=True,
    help="Archive folders: check each zip's sha256 (full) or size against MANIFEST.json.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_user_errors
def open_command(path: Path, verify: str, as_json: bool) -> None:
    """Open PATH (store, .zip store, or archive folder, zipped or extracted) and summarise it.

    What opens here opens the same way in Python: `FeatureStore.open(PATH)`.
    """
    from cinefeat.store import layout
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.info import format_info, store_info

    if layout.is_archive_folder(path):
        from cinefeat.store.archive.compose import open_archive

        store: FeatureStore = open_archive(path, verify=verify)  # type: ignore[arg-type]
    else:
        store = FeatureStore.open(path, read_only=True)
    summary = store_info(store)
    click.echo(json.dumps(summary, indent=2) if as_json else format_info(summary))


@store_group.command()
@click.argument("path", type=STORE)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--fast", is_flag=True, help="Check metadata and chunk files; skip reading values.")
@_user_errors
def validate(path: Path, as_json: bool, fast: bool) -> None:
    """Check every committed row; exit 1 and name each bad trailer if anything is wrong."""
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.validate import validate as run_validate

    report = run_validate(FeatureStore.open(path, read_only=True), check_values=not fast)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for problem in report.problems:
            click.echo(str(problem))
        verdict = "OK" if report.ok else "FAILED"
        errors = sum(p.severity == "error" for p in report.problems)
        click.echo(
            f"{verdict}: {report.trailers} trailers"
            + (
                " ({ok} ok, {partial} partial, {failed} failed)".format(**report.outcomes)
                if report.outcomes
                else ""
            )
            + f" in {report.parts} part(s), {errors} error(s)"
        )
    if not report.ok:
        sys.exit(1)


@store_group.command()
@click.argument("path", type=STORE)
@click.option(
    "--rows-per-shard",
    type=click.IntRange(min=1),
    default=None,
    help="Pack chunks into shard files of about this many rows (few files for big stores).",
)
@click.option("--force", is_flag=True, help="Rewrite even a store that is already compact.")
@_user_errors
def compact(path: Path, rows_per_shard: int | None, force: bool) -> None:
    """Merge all parts into one (safe to interrupt, rerun, and run beside live writers: parts
    whose writer is alive are left as they are and named)."""
    from cinefeat.store.compact import compact as run_compact
    from cinefeat.store.feature_store import FeatureStore

    result = run_compact(FeatureStore.open(path), rows_per_shard=rows_per_shard, force=force)
    for name, why in result.skipped.items():
        click.echo(f"skipped open part {name}: {why}")
    if result.part is None:
        click.echo(f"already compact: {result.trailers} trailers in one part")
    else:
        click.echo(
            f"compacted {len(result.replaced)} part(s) into {result.part}: {result.trailers} "
            f"trailers, rows {result.rows} in {result.seconds:.1f} s"
        )


@store_group.command(name="export-hdf5")
@click.argument("path", type=STORE)
@click.argument("out", type=STORE)
@_user_errors
def export_hdf5_command(path: Path, out: Path) -> None:
    """Write the store at PATH into one HDF5 file OUT (same ragged layout)."""
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.hdf5 import export_hdf5

    export_hdf5(FeatureStore.open(path, read_only=True), out)
    click.echo(str(out))


@store_group.command(name="import-hdf5")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("path", type=STORE)
@click.option(
    "--rows-per-shard",
    type=click.IntRange(min=1),
    default=None,
    help="Pack chunks into shard files of about this many rows (few files for big stores).",
)
@_user_errors
def import_hdf5_command(source: Path, path: Path, rows_per_shard: int | None) -> None:
    """Build a new store at PATH from an HDF5 file written by export-hdf5."""
    from cinefeat.store.hdf5 import import_hdf5

    store = import_hdf5(source, path, rows_per_shard=rows_per_shard)
    click.echo(f"{store.path}: {len(store)} trailers, features {store.features()}")


COMMANDS: list[click.Command] = [store_group]
