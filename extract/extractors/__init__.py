"""One module per extractor; importing this package registers them all in `EXTRACTORS`.

Modules are discovered, not listed, so adding an extractor is adding one file. Each module keeps its
heavy imports inside `load()`, so importing them all is cheap. A module that fails to import (a
missing optional dependency, work in progress) does not take the others down: it is logged and
listed in `BROKEN` with its error, which `cinefeat models list` and `--features` errors show.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

from cinefeat.extract.base import EXTRACTORS

log = logging.getLogger(__name__)

BROKEN: dict[str, str] = {}

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("_"):
        continue
    try:
        importlib.import_module(f"{__name__}.{_module.name}")
    except Exception as _error:
        BROKEN[_module.name] = f"{type(_error).__name__}: {_error}"
        log.warning("extractor module %s could not be imported: %s", _module.name, _error)

__all__ = ["BROKEN", "EXTRACTORS"]
