"""Command-line vocabulary shared by every component: `--device`, `--json`, `--quiet`, the STORE
argument, lazy choices.

Lives in `store` because it is the one package that extract, fuse and cli may all import (they
never import each other). Each shared option is declared once here, so it has one name, one
default, one help text and one meaning in every command (issue 20, item 3): `--device` defaults
to `auto` (`resolve_device`: CUDA when this machine has it, else the CPU; before, extract said
`cpu`, fuse said `auto` or "CUDA if available"); `--json` prints one valid JSON document
(`echo_result`: undefined numbers as null). The declared parameters are `SharedOption` /
`SharedArgument` instances, which is how tests/cli/test_cli_vocabulary.py tells them from
look-alikes declared by hand. Nothing here imports torch or numpy at import time: `cinefeat
--help` must stay fast (item 8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from cinefeat.store.errors import CinefeatError
from cinefeat.store.exit_codes import EXIT_ERROR, EXIT_USAGE

F = TypeVar("F", bound=Callable[..., Any])

DEVICE_HELP = "auto (CUDA when available, else CPU), cpu, cuda or cuda:N."
QUIET_HELP = "No progress bars; only errors on stderr."
STORE_METAVAR = "STORE"


class SharedOption(click.Option):
    """An option declared in this module (`--device`, `--json`, `--quiet`)."""


class SharedArgument(click.Argument):
    """The STORE argument declared in this module."""


class DeviceError(CinefeatError, ValueError):
    """Not a device at all (`--device gpu0`): a wrong command line, so the usage exit code."""

    exit_code = EXIT_USAGE


class DeviceUnavailable(DeviceError):
    """A device that this machine does not have (`--device cuda` without CUDA): the command line
    is right but the command cannot start here, so the error exit code; the message names the
    fix."""

    exit_code = EXIT_ERROR


def resolve_device(name: str | None = "auto") -> str:
    """The device a `--device` value means here, as a torch device string ("cpu", "cuda:1").

    `auto` (and None, the API default) is CUDA when torch sees a GPU, else the CPU; an explicit
    CUDA device on a machine without one is an error that names the fix, not a traceback from the
    first `.to()`.
    """
    import torch

    if name is None or str(name) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise DeviceError(
            f"--device {name!r} is not a device: use auto, cpu, cuda or cuda:N"
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"--device {name} asked for, but CUDA is not available; use --device cpu"
        )
    return str(device)


def device_option(function: F) -> F:
    """`--device`, default `auto`; the command resolves it with `resolve_device`."""
    return click.option(
        "--device", cls=SharedOption, default="auto", show_default=True, help=DEVICE_HELP
    )(function)


def json_option(what: str = "the result") -> Callable[[F], F]:
    """`--json` (parameter `as_json`): print `what` as one JSON document on stdout instead of
    text; print it with `echo_result`, so that the document is valid JSON."""
    return click.option(
        "--json",
        "as_json",
        cls=SharedOption,
        is_flag=True,
        help=f"Print {what} as one JSON document on stdout (undefined numbers as null).",
    )


def quiet_option(function: F) -> F:
    """`-q/--quiet` (parameter `quiet`): no progress bars, only errors on stderr."""
    return click.option("-q", "--quiet", cls=SharedOption, is_flag=True, help=QUIET_HELP)(function)


def store_argument(function: F) -> F:
    """The STORE argument (parameter `store_path`, a `Path`): a store directory, a `.zip` store or
    a feature archive folder. Not checked for existence here: opening it says what is wrong."""
    return click.argument(
        "store_path", cls=SharedArgument, metavar=STORE_METAVAR, type=click.Path(path_type=Path)
    )(function)


def echo_result(result: Any, as_json: bool, text: str | Callable[[], str]) -> None:
    """Print `result` as JSON (`--json`; NaN/inf as null, never bare `NaN`) or `text` (a string, or
    a function making it only when text is wanted)."""
    if as_json:
        from cinefeat.store.jsonout import json_text

        click.echo(json_text(result, ensure_ascii=False))
    else:
        click.echo(text() if callable(text) else text)


class LazyChoice(click.Choice):
    """A `click.Choice` whose choices are computed on first use (parsing, `--help` of the command
    itself, completion), not when the command is defined.

    Why: choices that come from a registry (`--head` from the head registry) would otherwise
    import every registered module, torch included, whenever the CLI starts, even for
    `cinefeat --help` (issue 20, item 8).
    """

    def __init__(self, load: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        self._load = load
        self._choices: tuple[str, ...] | None = None
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple[str, ...]:
        if self._choices is None:
            self._choices = tuple(self._load())
        return self._choices

    @choices.setter
    def choices(self, value: Iterable[str]) -> None:
        self._choices = tuple(value)


def open_store(path: str) -> Any:
    """The store at `path` for a command. `NotAStoreError` and friends are `CinefeatError`s that
    name the fix; `cinefeat.cli.main` prints them (exit 1). One helper for every component's
    commands, so their CLI modules need not import each other for it."""
    from cinefeat.store import FeatureStore

    return FeatureStore.open(path)
