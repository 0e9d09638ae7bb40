"""Lazy package attributes (PEP 562): `from cinefeat.store import FeatureStore` without paying for
zarr (or torch) when a package is imported only for one light name.

Why: `cinefeat --help` imports every command module, and each package `__init__` that re-exported
its heavy modules eagerly put torch and zarr on that path (seconds, issue 20 item 8). A package
lists `name -> module` and gets a module `__getattr__`/`__dir__`; the first access imports the
module and caches the attribute in the package namespace, so later accesses cost nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`(__getattr__, __dir__)` for `package`: `exports[name]` is the module defining `name`.

    `namespace` is the package's `globals()`; a resolved attribute is stored there, so Python
    finds it without calling `__getattr__` again.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
