"""`cinefeat store info | runs | open | validate | compact | export-hdf5 | import-hdf5` (for
cli.main).

Every command that reads takes a store directory, a `.zip` store, or a feature archive folder
(`cinefeat archive` / `cinefeat fetch`, zipped or extracted).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from cinefeat.store.cli_options import echo_result, json_option, store_argument
from cinefeat.store.exit_codes import EXIT_ERROR

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(func: F) -> F:
    """A `KeyError` of the store (an unknown trailer or feature) carries a message that names the
    fix: show it without a traceback. Store and archive errors are `CinefeatError`s, which
    `cinefeat.cli.main` shows the same way."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KeyError as error:
            message = error.args[0] if error.args else error
            raise click.ClickException(str(message)) from error

    return wrapper  # type: ignore[return-value]


STORE = click.Path(path_type=Path)


@click.group(name="store")
def store_group() -> None:
    """Inspect, check and convert a feature store (format: docs/store-format.md)."""


@store_group.command()
@store_argument
@json_option()
@_user_errors
def info(store_path: Path, as_json: bool) -> None:
    """Trailers, features, labels, splits and disk usage of the store at STORE."""
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.info import format_info, store_info

    summary = store_info(FeatureStore.open(store_path, read_only=True))
    echo_result(summary, as_json, lambda: format_info(summary))


@store_group.command()
@store_argument
@click.option("--toml", "toml_run", metavar="RUN", help="Print RUN's settings as a --config file.")
@json_option()
@_user_errors
def runs(store_path: Path, toml_run: str | None, as_json: bool) -> None:
    """The runs that wrote the store at STORE, with the settings each recorded."""
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.job_config import to_toml

    configs = FeatureStore.open(store_path, read_only=True).run_configs()
    if toml_run is not None:
        if toml_run not in configs:
            raise click.ClickException(
                f"no recorded settings for run {toml_run!r}; runs with settings: "
                f"{', '.join(sorted(configs)) or 'none'}"
            )
        click.echo(to_toml(configs[toml_run]), nl=False)
        return
    lines = []
    for run, config in sorted(configs.items()):
        from_file = f", from {config['config_file']}" if config.get("config_file") else ""
        lines.append(
            f"{run}\t{config.get('command')} (cinefeat {config.get('cinefeat')}{from_file})"
        )
    if lines or as_json:
        echo_result(configs, as_json, "\n".join(lines))


@store_group.command(name="open")
@store_argument
@click.option(
    "--verify",
    type=click.Choice(["full", "size", "none"]),
    default="full",
    show_default=True,
    help="Archive folders: check each zip's sha256 (full) or size against MANIFEST.json.",
)
@json_option()
@_user_errors
def open_command(store_path: Path, verify: str, as_json: bool) -> None:
    """Open STORE (store, .zip store, or archive folder, zipped or extracted) and summarise it.

    What opens here opens the same way in Python: `FeatureStore.open(STORE)`.
    """
    from cinefeat.store import layout
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.info import format_info, store_info

    if layout.is_archive_folder(store_path):
        from cinefeat.store.archive.compose import open_archive

        store: FeatureStore = open_archive(store_path, verify=verify)  # type: ignore[arg-type]
    else:
        store = FeatureStore.open(store_path, read_only=True)
    summary = store_info(store)
    echo_result(summary, as_json, lambda: format_info(summary))


@store_group.command()
@store_argument
@json_option()
@click.option("--fast", is_flag=True, help="Check metadata and chunk files; skip reading values.")
@_user_errors
def validate(store_path: Path, as_json: bool, fast: bool) -> None:
    """Check every committed row; exit 1 and name each bad trailer if anything is wrong."""
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.validate import validate as run_validate

    report = run_validate(FeatureStore.open(store_path, read_only=True), check_values=not fast)
    echo_result(report.to_dict(), as_json, lambda: _validate_text(report))
    if not report.ok:
        sys.exit(EXIT_ERROR)


def _validate_text(report: Any) -> str:
    """The problems one per line, then the verdict."""
    verdict = "OK" if report.ok else "FAILED"
    errors = sum(p.severity == "error" for p in report.problems)
    outcomes = (
        " ({ok} ok, {partial} partial, {failed} failed)".format(**report.outcomes)
        if report.outcomes
        else ""
    )
    summary = (
        f"{verdict}: {report.trailers} trailers{outcomes} in {report.parts} part(s), "
        f"{errors} error(s)"
    )
    return "\n".join([*(str(problem) for problem in report.problems), summary])


@store_group.command()
@store_argument
@click.option(
    "--rows-per-shard",
    type=click.IntRange(min=1),
    default=None,
    help="Pack chunks into shard files of about this many rows (few files for big stores).",
)
@click.option("--force", is_flag=True, help="Rewrite even a store that is already compact.")
@json_option("what was merged")
@_user_errors
def compact(store_path: Path, rows_per_shard: int | None, force: bool, as_json: bool) -> None:
    """Merge all parts into one (safe to interrupt, rerun, and run beside live writers: parts
    whose writer is alive are left as they are and named)."""
    from cinefeat.store.compact import compact as run_compact
    from cinefeat.store.feature_store import FeatureStore

    result = run_compact(FeatureStore.open(store_path), rows_per_shard=rows_per_shard, force=force)
    answer = {
        "store": str(store_path),
        "part": result.part,
        "replaced": list(result.replaced),
        "skipped": dict(result.skipped),
        "trailers": result.trailers,
        "rows": result.rows,
        "seconds": result.seconds,
    }
    lines = [f"skipped open part {name}: {why}" for name, why in result.skipped.items()]
    if result.part is None:
        lines.append(f"already compact: {result.trailers} trailers in one part")
    else:
        lines.append(
            f"compacted {len(result.replaced)} part(s) into {result.part}: {result.trailers} "
            f"trailers, rows {result.rows} in {result.seconds:.1f} s"
        )
    echo_result(answer, as_json, "\n".join(lines))


@store_group.command(name="export-hdf5")
@store_argument
@click.argument("out", type=STORE)
@json_option("the file written")
@_user_errors
def export_hdf5_command(store_path: Path, out: Path, as_json: bool) -> None:
    """Write the store at STORE into one HDF5 file OUT (same ragged layout)."""
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.hdf5 import export_hdf5

    export_hdf5(FeatureStore.open(store_path, read_only=True), out)
    echo_result({"store": str(store_path), "out": str(out)}, as_json, str(out))


@store_group.command(name="import-hdf5")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@store_argument
@click.option(
    "--rows-per-shard",
    type=click.IntRange(min=1),
    default=None,
    help="Pack chunks into shard files of about this many rows (few files for big stores).",
)
@json_option("the new store's trailers and features")
@_user_errors
def import_hdf5_command(
    source: Path, store_path: Path, rows_per_shard: int | None, as_json: bool
) -> None:
    """Build a new store at STORE from an HDF5 file written by export-hdf5."""
    from cinefeat.store.hdf5 import import_hdf5

    store = import_hdf5(source, store_path, rows_per_shard=rows_per_shard)
    answer = {"store": str(store.path), "trailers": len(store), "features": store.features()}
    echo_result(
        answer, as_json, f"{store.path}: {len(store)} trailers, features {store.features()}"
    )


COMMANDS: list[click.Command] = [store_group]
