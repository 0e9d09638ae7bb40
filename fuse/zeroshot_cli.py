"""`cinefeat embed | similar | suggest | similarity-tune | zeroshot-train | zeroshot-eval`.

Mounted by cinefeat.cli.main; the commands live next to their code in `fuse/similarity/cli.py` and
`fuse/zeroshot/cli.py`. `cinefeat predict --labels` (cli/commands.py) calls
`cinefeat.fuse.zeroshot.rank_labels`.
"""

from __future__ import annotations

import click

from cinefeat.fuse.similarity.cli import COMMANDS as SIMILARITY_COMMANDS
from cinefeat.fuse.zeroshot.cli import COMMANDS as ZEROSHOT_COMMANDS

COMMANDS: list[click.Command] = [*SIMILARITY_COMMANDS, *ZEROSHOT_COMMANDS]
