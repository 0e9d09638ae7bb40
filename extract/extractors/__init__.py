"""One module per extractor; importing this package registers them all in `EXTRACTORS`.

Modules are discovered, not listed, so adding an extractor is adding one file. Each module keeps its
heavy imports inside `load()`, so importing them all is cheap.
"""

from __future__ import annotations

import importlib
import pkgutil

from cinefeat.extract.base import EXTRACTORS

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["EXTRACTORS"]
