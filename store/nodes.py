"""Typed access to the nodes of a zarr store: an array where an array must be, a group where a
group must be, attributes of the JSON type the layout says.

Why: `group[name]` in zarr 3 returns `Array | Group` and `attrs.get` returns any JSON value, so
every reader either trusts the layout blindly (a hand-edited store then fails deep inside numpy
with `'Group' object has no attribute 'shape'`) or repeats the same checks. These helpers check
once, give the type checker the narrowed type, and name the node and the fix when the store does
not match `layout.py`.
"""

from __future__ import annotations

from typing import Any

import zarr

from cinefeat.store.errors import StoreFormatError

Node = zarr.Group | zarr.Array


def _where(parent: zarr.Group, path: tuple[str, ...]) -> str:
    base = parent.path or "/"
    return f"{base.rstrip('/')}/{'/'.join(path)}".lstrip("/") or "/"


def _walk(parent: zarr.Group, path: tuple[str, ...]) -> Node:
    node: Node = parent
    for i, name in enumerate(path):
        if not isinstance(node, zarr.Group):
            raise StoreFormatError(
                f"{_where(parent, path[:i])} is an array where cinefeat expects a group holding "
                f"{name!r}: the store was changed by hand; run `cinefeat store validate`"
            )
        node = node[name]
    return node


def array_at(parent: zarr.Group, *path: str) -> zarr.Array:
    """The array at `parent/path...` (KeyError if it is missing, as zarr raises)."""
    node = _walk(parent, path)
    if not isinstance(node, zarr.Array):
        raise StoreFormatError(
            f"{_where(parent, path)} is a group where cinefeat expects an array: the store was "
            "changed by hand; run `cinefeat store validate`"
        )
    return node


def group_at(parent: zarr.Group, *path: str) -> zarr.Group:
    """The group at `parent/path...` (KeyError if it is missing, as zarr raises)."""
    node = _walk(parent, path)
    if not isinstance(node, zarr.Group):
        raise StoreFormatError(
            f"{_where(parent, path)} is an array where cinefeat expects a group: the store was "
            "changed by hand; run `cinefeat store validate`"
        )
    return node


def attr_dict(node: Node, key: str) -> dict[str, Any]:
    """The JSON object stored in attribute `key` ({} when absent)."""
    value = node.attrs.get(key, {})
    if not isinstance(value, dict):
        raise StoreFormatError(
            f"attribute {key!r} of {node.path or '/'} is {type(value).__name__}, not a JSON "
            "object: the store's metadata was changed by hand; run `cinefeat store validate`"
        )
    return dict(value)


def attr_list(node: Node, key: str) -> list[Any]:
    """The JSON array stored in attribute `key` ([] when absent)."""
    value = node.attrs.get(key, [])
    if not isinstance(value, list | tuple):
        raise StoreFormatError(
            f"attribute {key!r} of {node.path or '/'} is {type(value).__name__}, not a JSON "
            "array: the store's metadata was changed by hand; run `cinefeat store validate`"
        )
    return list(value)


def read_slice(array: zarr.Array, start: int, stop: int) -> Any:
    """`array[start:stop]` as a numpy array (zarr's own annotation admits scalars)."""
    import numpy as np

    return np.asarray(array[start:stop])
