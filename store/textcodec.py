"""Per-(trailer, feature) texts (OCR lines, ASR segments) as one JSON string each.

JSON keeps the format readable by any tool; `null` means "this feature keeps no texts", which is
different from `[]` (it keeps texts, and this trailer had none).
"""

from __future__ import annotations

import json
from typing import Any


def encode_texts(texts: list[dict[str, Any]] | None) -> str:
    return json.dumps(texts, ensure_ascii=False, sort_keys=True)


def decode_texts(text: str) -> list[dict[str, Any]] | None:
    if text == "":  # fill value of an entry written before texts existed
        return None
    value = json.loads(text)
    return None if value is None else list(value)
