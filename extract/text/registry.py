"""A name -> factory registry for the pluggable stages of the text features.

Why one small generic class: OCR backends, ASR backends, language identifiers and text encoders
are each chosen by name from the extractor config (and the CLI), and each needs the same two
things: a listing of the choices and an error that names them when a name is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownBackend(KeyError):
    """A backend name is not registered; the message lists the registered names."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


class BackendUnavailable(ImportError):
    """A backend's optional dependency is missing; the message names the pip extra to install."""


@dataclass
class BackendRegistry(Generic[T]):
    """Names -> factories of one kind of backend (`kind` appears in error messages)."""

    kind: str
    entries: dict[str, Callable[..., T]] = field(default_factory=dict)

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self.entries and self.entries[name] is not factory:
                raise ValueError(f"{self.kind} backend {name!r} is registered twice")
            self.entries[name] = factory
            return factory

        return add

    def create(self, name: str, **options: Any) -> T:
        if name not in self.entries:
            raise UnknownBackend(
                f"unknown {self.kind} backend {name!r}; choose from: {', '.join(self.names())}"
            )
        return self.entries[name](**options)

    def names(self) -> list[str]:
        return sorted(self.entries)


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
