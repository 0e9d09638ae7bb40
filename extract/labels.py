"""Read a labels file: CSV or JSON lines, one trailer per row, genres separated by `|`.

Why both: MovieNet-style releases ship CSV, scrapers write JSON lines. A row names its trailer by id
or by path relative to the dataset root (with extension); both map to the same id as `scan`. The
label vocabulary is the sorted set of genres seen, so two runs over the same file agree.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path, PurePosixPath

ID_COLUMNS = ("id", "trailer", "path", "file")
LABEL_COLUMNS = ("genres", "labels", "genre", "label")


class LabelsError(Exception):
    """The labels file cannot be read (message names the line and the fix)."""


def read_labels(path: str | Path) -> tuple[list[str], dict[str, list[str]]]:
    """-> (sorted vocabulary, {trailer id: [genre, ...]})."""
    file = Path(path)
    if not file.is_file():
        raise LabelsError(f"labels file {file} does not exist")
    if file.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = _jsonl_rows(file)
    else:
        rows = _csv_rows(file)
    labels: dict[str, list[str]] = {}
    for line, record in rows:
        key = _first(record, ID_COLUMNS)
        raw = _first(record, LABEL_COLUMNS)
        if key is None or raw is None:
            raise LabelsError(
                f"{file}:{line}: need an id column ({'/'.join(ID_COLUMNS)}) and a genres column "
                f"({'/'.join(LABEL_COLUMNS)})"
            )
        genres = raw if isinstance(raw, list) else str(raw).split("|")
        cleaned = sorted({g.strip() for g in genres if g.strip()})
        labels[normalise_id(str(key))] = cleaned
    vocabulary = sorted({g for genres in labels.values() for g in genres})
    return vocabulary, labels


def normalise_id(key: str) -> str:
    """`a/b.mp4` or `./a/b` -> `a/b` (the id `scan` gives that file)."""
    posix = PurePosixPath(key.replace("\\", "/"))
    parts = [p for p in posix.parts if p not in (".", "")]
    text = "/".join(parts)
    suffix = PurePosixPath(text).suffix.lower().lstrip(".")
    from cinefeat.extract.scan import VIDEO_EXTENSIONS

    return text[: -len(suffix) - 1] if suffix in VIDEO_EXTENSIONS else text


def _first(record: dict[str, object], names: tuple[str, ...]) -> object | None:
    for name in names:
        if name in record and record[name] not in (None, ""):
            return record[name]
    return None


def _csv_rows(file: Path) -> list[tuple[int, dict[str, object]]]:
    with open(file, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise LabelsError(f"{file} is empty: expected a header such as `id,genres`")
        fields = [f.strip().lower() for f in reader.fieldnames]
        return [
            (
                number + 2,
                {
                    f: (v.strip() if isinstance(v, str) else v)
                    for f, v in zip(fields, row.values(), strict=False)
                },
            )
            for number, row in enumerate(reader)
        ]


def _jsonl_rows(file: Path) -> list[tuple[int, dict[str, object]]]:
    out = []
    for number, text in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise LabelsError(f"{file}:{number}: not valid JSON ({error})") from None
        if not isinstance(record, dict):
            raise LabelsError(f"{file}:{number}: each line must be a JSON object")
        out.append((number, {str(k).lower(): v for k, v in record.items()}))
    return out
