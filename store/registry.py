"""One registry type for everything chosen by name: extractors, samplers, scene detectors, text
backends, heads and head presets.

Why one type: each of those needs the same four things (a name -> factory table filled by a
decorator, an error that lists the choices, the typed options a factory takes, a listing for the
CLI), and writing them once per kind had made four shapes with different errors. Why it lives in
store/: it is the one layer both extract/ and fuse/ may import (they never import each other), and
it knows nothing about either. Code asks an entry what it needs (`capabilities`) instead of
naming entries; every live registry is listed by `registries()`, so one test walks them all.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
import pkgutil
import types
import typing
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cinefeat.store.errors import CinefeatError

log = logging.getLogger(__name__)

T = TypeVar("T")


class UnknownEntry(CinefeatError, KeyError):
    """A name is not registered; the message lists the registered names."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""`Option.default` of an option the caller must give (e.g. a scene detector's `fps`)."""


@dataclass(frozen=True)
class Option:
    """One keyword a factory takes: its name, declared type (as written and resolved), default."""

    name: str
    type: str
    default: Any = REQUIRED
    hint: Any = Any

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def accepts(self, value: Any) -> bool:
        """Does `value` fit the declared type? (Unresolvable or generic hints accept anything.)"""
        return _fits(value, self.hint)

    def to_dict(self) -> dict[str, Any]:
        default = None if self.required else self.default
        return {"name": self.name, "type": self.type, "required": self.required, "default": default}


@dataclass(frozen=True)
class Capabilities:
    """What an entry asks of the pipeline, so callers ask instead of naming entries.

    Fields a kind of entry does not use keep their defaults (a head needs no frames).
    """

    device: bool = False  # it is given the run's --device (runs a network)
    frames: bool = False  # it needs decoded video frames
    short_side: int | None = None  # ... at this short side in pixels (None: the source size)
    clips: bool = False  # ... as stacks of consecutive frames
    audio_rate: int | None = None  # it needs mono audio at this rate (Hz)
    scenes: bool = False  # its items depend on the shot boundaries (the scene detector)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered factory with what `--help`, `list` and the option parser show of it."""

    name: str
    factory: Callable[..., T]
    description: str
    options: tuple[Option, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "options": [o.to_dict() for o in self.options],
        }


_LIVE: weakref.WeakSet[Registry[Any]] = weakref.WeakSet()


class Registry(Mapping[str, Callable[..., T]], Generic[T]):
    """Names -> factories of one kind of thing (`kind` appears in messages).

    A mapping, so `name in r`, `r[name]` and `sorted(r)` work; `entries` is the plain dict.
    `unknown` is the error raised for a name that is not registered (a `KeyError` or a kind's
    own config error); its message always lists the choices.
    """

    def __init__(self, kind: str, *, unknown: type[Exception] = UnknownEntry) -> None:
        self.kind = kind
        self.unknown = unknown
        self.entries: dict[str, Callable[..., T]] = {}
        self._descriptions: dict[str, str] = {}
        _LIVE.add(self)

    # -- filling --------------------------------------------------------------------------------
    def register(self, target: Any = None, *, description: str | None = None) -> Any:
        """`@r.register` (the entry's `name` attribute names it) or `@r.register("name")`."""
        if isinstance(target, str) or target is None:
            name = target

            def add(factory: Callable[..., T]) -> Callable[..., T]:
                return self.add(name or factory.name, factory, description)  # type: ignore[attr-defined]

            return add
        return self.add(target.name, target, description)

    def add(self, name: str, factory: Any, description: str | None = None) -> Any:
        if name in self.entries and self.entries[name] is not factory:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self.entries[name] = factory
        self._descriptions[name] = description if description is not None else _summary(factory)
        return factory

    # -- asking ---------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Callable[..., T]:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def get(self, name: str, default: Any = REQUIRED) -> Any:
        if name in self.entries:
            return self.entries[name]
        if default is not REQUIRED:
            return default
        raise self.unknown(
            f"unknown {self.kind} {name!r}; choose from: {', '.join(self.names()) or '(none)'}"
        )

    def create(self, name: str, /, **options: Any) -> T:
        return self.get(name)(**options)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def describe(self, name: str) -> Entry[T]:
        factory = self.get(name)
        return Entry(name, factory, self._descriptions[name], options_of(factory))

    def list(self) -> list[Entry[T]]:
        """Every entry, sorted by name, with its description and options (for the CLI)."""
        return [self.describe(name) for name in self.names()]

    def options(self, name: str) -> tuple[Option, ...]:
        return options_of(self.get(name))

    def capabilities(self, name: str, /, **options: Any) -> Capabilities:
        """What entry `name` (built with `options`) needs.

        Entries answer with a `capabilities` class method (known before construction) or method
        (an instance's needs depend on its options: it is built, not loaded); entries without one
        need only what their options show (a `device` option means it runs on the run's device).
        """
        factory = self.get(name)
        declared = inspect.getattr_static(factory, "capabilities", None)
        if isinstance(declared, (classmethod, staticmethod)):
            return factory.capabilities()
        if declared is not None:
            return factory(**options).capabilities()
        return Capabilities(device=any(o.name == "device" for o in options_of(factory)))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"

    # a registry is one table, not a value: compared and hashed by identity (Mapping would
    # compare contents and make it unhashable)
    __eq__ = object.__eq__
    __hash__ = object.__hash__


def registries() -> list[Registry[Any]]:
    """Every live registry (sorted by kind); import the packages that define them first."""
    return sorted(_LIVE, key=lambda r: r.kind)


def options_of(factory: Any) -> tuple[Option, ...]:
    """A factory's options: its `config_class` dataclass fields, else its keyword parameters."""
    config = getattr(factory, "config_class", None)
    if config is not None and dataclasses.is_dataclass(config):
        hints = _hints(config)
        return tuple(
            Option(f.name, _text(f.type), _field_default(f), hints.get(f.name, Any))
            for f in dataclasses.fields(config)
            if f.init
        )
    if inspect.isclass(factory):
        # a class passing **options on to a method says which one (`options_from = "_make"`)
        forwarded = getattr(factory, "options_from", None)
        own = _parameters(factory.__init__, skip_first=True)
        more = _parameters(getattr(factory, forwarded), skip_first=True) if forwarded else ()
        return own + more
    return _parameters(factory, skip_first=False)


def _parameters(target: Callable[..., Any], *, skip_first: bool) -> tuple[Option, ...]:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return ()
    hints = _hints(target)
    out = []
    for i, p in enumerate(signature.parameters.values()):
        if (i == 0 and skip_first) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue  # `self`, *args, **kwargs
        default = REQUIRED if p.default is p.empty else p.default
        annotation = "Any" if p.annotation is p.empty else _text(p.annotation)
        out.append(Option(p.name, annotation, default, hints.get(p.name, Any)))
    return tuple(out)


def import_submodules(package: str, path: Iterable[str], *, keep_going: bool) -> dict[str, str]:
    """Import every public submodule of `package` (whose `__path__` is `path`), which registers
    what they define; adding an entry is adding a module. Returns {module: error} of those that
    failed when `keep_going` (logged; the others still load), else the first failure raises."""
    broken: dict[str, str] = {}
    for module in pkgutil.iter_modules(list(path)):
        if module.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{package}.{module.name}")
        except Exception as error:
            if not keep_going:
                raise
            broken[module.name] = f"{type(error).__name__}: {error}"
            log.warning("module %s.%s could not be imported: %s", package, module.name, error)
    return broken


def _summary(factory: Any) -> str:
    """The first paragraph of the factory's own docstring, else of its module's (an extractor
    module opens with what the feature is; a base class's docstring would describe the base)."""
    own = factory.__dict__.get("__doc__") if inspect.isclass(factory) else factory.__doc__
    if not own:
        module = inspect.getmodule(factory)
        own = (module.__doc__ if module is not None else None) or ""
    return " ".join(inspect.cleandoc(own).split("\n\n")[0].split())


def _text(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return REQUIRED


def _hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:  # a forward reference this module cannot see: fall back to "accept all"
        return {}


def _fits(value: Any, hint: Any) -> bool:
    if hint is Any or isinstance(hint, TypeVar):
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if origin is typing.ClassVar:
        return True
    if hint is None or hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    check = origin or hint
    if isinstance(check, type):
        if check is tuple or check is list:
            return isinstance(value, (tuple, list))
        return isinstance(value, check)
    return True
