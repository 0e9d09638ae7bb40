"""Store tests share plain builder functions in `store_testkit.py` (importable from here).

pytest's importlib mode does not put test folders on sys.path, and helpers are ordinary code,
not fixtures, so this folder is added explicitly.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
