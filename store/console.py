"""Console conventions of every component: logs and progress bars on stderr, results on stdout.

`--quiet` on the `cinefeat` command calls `set_quiet(True)`; every long loop uses `progress(...)`,
so one switch silences them all. Lives in `store` because it is the one package every other
component may import.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    global _QUIET
    _QUIET = quiet


def is_quiet() -> bool:
    return _QUIET


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> Iterator[T]:
    """A tqdm bar on stderr (rate and ETA), silent under `--quiet`."""
    from tqdm.auto import tqdm

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("disable", _QUIET)
    return tqdm(iterable, **kwargs)


def setup_logging(verbosity: int = 0, quiet: bool = False) -> None:
    """Logs to stderr: WARNING by default, INFO with -v, DEBUG with -vv, ERROR only with --quiet."""
    level = (
        logging.ERROR
        if quiet
        else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)]
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    set_quiet(quiet)
    if quiet:
        # third-party bars (Hugging Face downloads, transformers' "Loading weights") read this
        # when they are imported, which happens later, inside the extractors' load()
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
