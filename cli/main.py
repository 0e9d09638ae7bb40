"""Entry point of the `cinefeat` command.

Each component owns its subcommands (`cinefeat.store.cli`, `cinefeat.extract.cli`,
`cinefeat.fuse.cli` each export `COMMANDS`); this module only mounts them, so `--help` on any
subcommand is written next to the code it drives. A component whose optional dependencies are not
installed still shows up, as a command that says which extra to install.

User errors are handled here, once: any `CinefeatError` a command raises is printed as
`error: <message>` (its traceback only with `-v`) and ends the command with the error's exit code
(store/exit_codes.py, docs/cli.md). Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import traceback
from typing import Any

import click

from cinefeat.store.cli_options import quiet_option
from cinefeat.store.console import setup_logging
from cinefeat.store.errors import CinefeatError

# (module, pip extra that provides its dependencies, modules that extra must make importable)
COMPONENTS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("cinefeat.store.cli", None, ()),
    ("cinefeat.store.publish_cli", None, ()),
    ("cinefeat.store.import_cli", None, ()),
    ("cinefeat.fuse.cli", None, ()),
    ("cinefeat.fuse.zeroshot_cli", None, ()),
    ("cinefeat.extract.cli", "extract", ("av", "open_clip", "scenedetect")),
    ("cinefeat.cli.commands", "extract", ("av", "open_clip", "scenedetect")),
)


class CinefeatGroup(click.Group):
    """The root group: turns a `CinefeatError` from any subcommand into `error: <message>` and
    its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CinefeatError as error:
            if ctx.params.get("verbose"):
                click.echo(traceback.format_exc().rstrip(), err=True)
            click.echo(f"error: {_message(error)}", err=True)
            ctx.exit(error.exit_code)


def _message(error: CinefeatError) -> str:
    """The error's message; a `KeyError` subclass without its own `__str__` would quote it."""
    if isinstance(error, KeyError) and error.args and type(error).__str__ is KeyError.__str__:
        return str(error.args[0])
    return str(error)


@click.group(cls=CinefeatGroup, context_settings={"help_option_names": ["-h", "--help"]})
@quiet_option
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-v info, -vv debug).")
@click.version_option(package_name="cinefeat")
def main(quiet: bool, verbose: int) -> None:
    """cinefeat: multimodal features of movie trailers, and genre heads trained on them."""
    setup_logging(verbose, quiet)


def _unavailable(name: str, extra: str, error: ImportError) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        raise click.ClickException(
            f"`cinefeat {name}` needs the [{extra}] extra ({error}). "
            f"Install it with: pip install 'cinefeat[{extra}]'"
        )

    command.help = f"(needs `pip install cinefeat[{extra}]`)"
    return command


def _missing(modules: tuple[str, ...]) -> str | None:
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def _mount() -> None:
    for module_name, extra, needs in COMPONENTS:
        module = importlib.import_module(module_name)
        missing = _missing(needs)
        for command in module.COMMANDS:
            if missing is not None and extra is not None:
                error = ModuleNotFoundError(f"No module named {missing!r}", name=missing)
                command = _unavailable(command.name or "?", extra, error)
            main.add_command(command)


_mount()

if __name__ == "__main__":
    main()
