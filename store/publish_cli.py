"""`cinefeat archive | publish | fetch`: feature archives and Zenodo (mounted by cinefeat.cli.main)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
