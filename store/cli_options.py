"""Command-line vocabulary shared by every component: one `--device` option, lazy choices.

Lives in `store` because it is the one package that extract, fuse and cli may all import (they
never import each other). `--device` has one default (`auto`) and one meaning everywhere
(`resolve_device`: CUDA when this machine has it, else the CPU); before, extract said `cpu`,
fuse said `auto` or "CUDA if available" (issue 20, item 3). Nothing here imports torch at import
time: `cinefeat --help` must stay fast (item 8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DEVICE_HELP = "auto (CUDA when available, else CPU), cpu, cuda or cuda:N."


class DeviceError(ValueError):
    """A device that this machine does not have, or not a device at all; the message names the
    fix."""


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
        raise DeviceError(f"--device {name} asked for, but CUDA is not available; use --device cpu")
    return str(device)


def device_option(function: F) -> F:
    """`--device`, default `auto`; the command resolves it with `resolve_device`."""
    return click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)(function)


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
    """The store at `path` for a command, or a `click.ClickException` with the store's own message
    (`NotAStoreError` and friends name the fix). One helper for every component's commands, so
    their CLI modules need not import each other for it."""
    from cinefeat.store import FeatureStore

    try:
        return FeatureStore.open(path)
    except Exception as error:
        raise click.ClickException(str(error)) from error
