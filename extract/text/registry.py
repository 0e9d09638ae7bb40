"""A name -> factory registry for the pluggable stages of the text features.

Why a thin subclass of the project's one registry type (`cinefeat.store.registry`): OCR backends,
ASR backends, language identifiers and text encoders are each chosen by name from the extractor
config (and the CLI); this names their kind "... backend" and their error `UnknownBackend`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from cinefeat.store.errors import CinefeatError
from cinefeat.store.registry import Registry, UnknownEntry

T = TypeVar("T")


class UnknownBackend(UnknownEntry):
    """A backend name is not registered; the message lists the registered names."""


class BackendUnavailable(CinefeatError, ImportError):
    """A backend's optional dependency is missing; the message names the pip extra to install."""


class BackendRegistry(Registry[T]):
    """Names -> factories of one kind of backend (`kind` appears in error messages)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} backend", unknown=UnknownBackend)


def require(module: str, extra: str) -> Any:
    """Import an optional dependency, or raise `BackendUnavailable` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise BackendUnavailable(
            f"{module} is not installed ({error}); install it with "
            f"`pip install 'cinefeat[{extra}]'`"
        ) from error
