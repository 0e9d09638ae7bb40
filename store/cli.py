"""`cinefeat` subcommands of the store component (mounted by cinefeat.cli.main)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
