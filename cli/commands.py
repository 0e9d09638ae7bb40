"""Commands that span components (`predict`, `demo`): the one place importing extract and fuse."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
