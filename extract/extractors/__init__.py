"""One module per extractor; importing this package registers them all in `EXTRACTORS`.

Modules are discovered, not listed, so adding an extractor is adding one file. Each module keeps its
heavy imports inside `load()`, so importing them all is cheap. A module that fails to import (a
missing optional dependency, work in progress) does not take the others down: it is logged and
listed in `BROKEN` with its error, which `cinefeat extract --features` errors show.
"""

from __future__ import annotations

from cinefeat.extract.base import EXTRACTORS
from cinefeat.store.registry import import_submodules

BROKEN: dict[str, str] = import_submodules(__name__, __path__, keep_going=True)

__all__ = ["BROKEN", "EXTRACTORS"]
