"""The one registry type: filling, finding, options, capabilities and the listing the CLI shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pytest

from cinefeat.store.registry import (
    REQUIRED,
    Capabilities,
    Registry,
    UnknownEntry,
    registries,
)


class ConfigError(ValueError):
    pass


@dataclass
class TinyConfig:
    size: int = 3
    mode: Literal["a", "b"] = "a"
    scale: float | None = None


class WithConfig:
    """A thing configured by a dataclass."""

    name = "configured"
    config_class = TinyConfig

    def __init__(self, **options: Any) -> None:
        self.config = TinyConfig(**options)

    def capabilities(self) -> Capabilities:  # depends on the instance's options
        return Capabilities(frames=True, short_side=self.config.size)


class Forwarding:
    name = "forwarding"
    options_from: ClassVar[str] = "_make"

    def __init__(self, fps: float, **options: Any) -> None:
        self.made = self._make(**options)

    def _make(self, threshold: float = 27.0) -> float:
        return threshold

    @classmethod
    def capabilities(cls) -> Capabilities:  # known without building one
        return Capabilities(device=True)


def plain(device: str = "cpu", batch: int = 8) -> tuple[str, int]:
    """A factory function.

    Its second paragraph is not part of the description."""
    return device, batch


def make_registry() -> Registry[Any]:
    registry: Registry[Any] = Registry("widget", unknown=ConfigError)
    registry.register(WithConfig)  # named by its `name`
    registry.register(Forwarding)
    registry.register("plain")(plain)  # named by the decorator's argument
    return registry


def test_it_is_a_mapping_of_names_to_factories() -> None:
    registry = make_registry()
    assert sorted(registry) == ["configured", "forwarding", "plain"] == registry.names()
    assert registry["plain"] is plain and "plain" in registry and "nope" not in registry
    assert registry.entries["configured"] is WithConfig and len(registry) == 3
    assert registry.create("plain", batch=2) == ("cpu", 2)


def test_unknown_names_raise_the_kinds_error_listing_the_choices() -> None:
    registry = make_registry()
    with pytest.raises(ConfigError, match="unknown widget 'nope'; choose from: configured, "):
        registry.create("nope")
    with pytest.raises(UnknownEntry, match=r"choose from: \(none\)"):
        Registry("empty").get("x")
    assert registry.get("nope", None) is None


def test_a_name_registered_twice_is_an_error_but_re_registering_the_same_is_not() -> None:
    registry = make_registry()
    registry.register(WithConfig)
    with pytest.raises(ValueError, match="widget 'plain' is registered twice"):
        registry.add("plain", lambda: None)


def test_options_come_from_the_config_dataclass_or_the_signature() -> None:
    registry = make_registry()
    configured = {o.name: o for o in registry.options("configured")}
    assert list(configured) == ["size", "mode", "scale"]
    assert configured["size"].type == "int" and configured["size"].default == 3
    assert configured["mode"].accepts("b") and not configured["mode"].accepts("c")
    assert configured["scale"].accepts(None) and configured["scale"].accepts(2)
    assert not configured["size"].accepts(True) and not configured["size"].accepts("3")
    forwarding = registry.options("forwarding")  # `self` and **options dropped, _make's added
    assert [(o.name, o.required) for o in forwarding] == [("fps", True), ("threshold", False)]
    assert forwarding[0].default is REQUIRED
    assert [o.name for o in registry.options("plain")] == ["device", "batch"]


def test_capabilities_are_asked_of_the_entry() -> None:
    registry = make_registry()
    assert registry.capabilities("forwarding") == Capabilities(device=True)  # class method
    built = registry.capabilities("configured", size=7)  # method: built with the options
    assert built.frames and built.short_side == 7
    assert registry.capabilities("plain").device  # none declared: a `device` option says it


def test_list_describes_every_entry_for_the_cli() -> None:
    listing = {e.name: e.to_dict() for e in make_registry().list()}
    assert listing["plain"]["description"] == "A factory function."
    assert listing["configured"]["description"] == "A thing configured by a dataclass."
    assert listing["forwarding"]["description"].startswith("The one registry type")  # module's
    assert listing["forwarding"]["options"][0] == {
        "name": "fps",
        "type": "float",
        "required": True,
        "default": None,
    }


def test_registries_lists_the_live_ones() -> None:
    registry = make_registry()
    assert any(r is registry for r in registries())
    assert make_registry() != registry  # compared by identity, not contents
