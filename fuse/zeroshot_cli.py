"""`cinefeat embed | similar | suggest | zeroshot-*` (mounted by cinefeat.cli.main)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
