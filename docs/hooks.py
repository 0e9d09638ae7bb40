"""MkDocs hook: let mkdocstrings find the `cinefeat` package in this repository's layout.

The root folders `store/`, `extract/`, `fuse/`, `cli/` are the subpackages of `cinefeat` through a
setuptools `package-dir` mapping, which a static source reader cannot see. At startup, before the
plugins read their config, this hook makes `build/api-src/cinefeat/<component>` symlinks to those
folders: the path that `mkdocs.yml` gives the Python handler.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ("store", "extract", "fuse", "cli")


def on_startup(**kwargs) -> None:
    package = ROOT / "build" / "api-src" / "cinefeat"
    package.mkdir(parents=True, exist_ok=True)
    for component in COMPONENTS:
        link = package / component
        if not link.is_symlink():
            link.symlink_to(ROOT / component, target_is_directory=True)
