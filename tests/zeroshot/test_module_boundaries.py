"""Zero-shot and similarity keep only what is theirs: their command modules do not import each
other, and neither re-implements what fuse has once (container, padding, checkpoint, loader)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FUSE = Path(__file__).resolve().parents[2] / "fuse"
PACKAGES = ("zeroshot", "similarity")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_another_packages_cli(package: str) -> None:
    other = next(p for p in PACKAGES if p != package)
    for path in sorted((FUSE / package).glob("*.py")):
        assert f"cinefeat.fuse.{other}.cli" not in imported_modules(path), path.name


@pytest.mark.parametrize("package", PACKAGES)
def test_no_second_container_padding_loader_or_checkpoint(package: str) -> None:
    for path in sorted((FUSE / package).glob("*.py")):
        tree = ast.parse(path.read_text())
        defined = {
            node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)
        }
        twins = defined & {"SequenceTensors", "pad_sequences", "from_store", "head_inputs",
                           "save_zero_shot", "load_zero_shot", "_parse_max_len"}  # fmt: skip
        assert not twins, f"{path.name} defines {sorted(twins)} again"
