"""Read a labels file: CSV or JSON lines, one trailer per row, genres separated by `|`.

Why both: MovieNet-style releases ship CSV, scrapers write JSON lines. A row names its trailer by id
or by path relative to the dataset root (with extension); both map to the same id as `scan`. The
label vocabulary is the sorted set of genres seen, so two runs over the same file agree.

Why so strict about the bytes: labels files come from spreadsheets and scrapers, and each wrong
guess used to end in a silently wrong label or a misleading error. So (docs/quickstart.md, "Labels
files"):
- CSV goes through the `csv` module (quoting, CRLF); the delimiter is whichever of `,` `;` tab makes
  the header name an id and a genres column (Excel in many European locales writes `;`);
- the text is UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one), or
  UTF-16 with a BOM (Excel's "Unicode Text"); anything else is read as Windows-1252 / Latin-1
  (older Excel's "CSV") with a warning, since those bytes decode whatever they mean;
- a quote that never closes, or a field that spans lines, is an error naming the line where it
  opened (a genre never contains a line break, so this is a stray quote swallowing rows);
- an empty genres cell (or JSON `null` / `[]`) is a trailer with no labels, not an error;
- JSON-lines genres are a list of strings or one `|`-separated string; anything else is an error
  naming the line;
- a trailer listed twice with the same genres is a warning; with different genres an error naming
  both lines (which one is right cannot be guessed).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cinefeat.store.errors import CinefeatError

ID_COLUMNS = ("id", "trailer", "path", "file")
LABEL_COLUMNS = ("genres", "labels", "genre", "label")
DELIMITERS = (",", ";", "\t")
GENRE_SEPARATOR = "|"
SHOWN = 5  # ids listed in a warning before "and N more"


class LabelsError(CinefeatError):
    """The labels file cannot be read (message names the line and the fix)."""


@dataclass
class LabelsFile:
    """What a labels file says: genres per trailer id, the line of each id, and the warnings."""

    path: Path
    labels: dict[str, list[str]]
    lines: dict[str, int]  # id -> the (first) line that labels it
    warnings: list[str] = field(default_factory=list)

    @property
    def vocabulary(self) -> list[str]:
        return sorted({g for genres in self.labels.values() for g in genres})

    def source(self, trailer_id: str) -> str:
        """`file:line` of the row labelling `trailer_id` (kept in the store with the labels)."""
        return f"{self.path.name}:{self.lines[trailer_id]}"

    def unknown_ids(self, known: set[str] | frozenset[str]) -> str | None:
        """A warning listing the ids absent from `known` (first few, with lines), or None."""
        unknown = [tid for tid in self.labels if tid not in known]
        if not unknown:
            return None
        shown = ", ".join(f"{tid!r} (line {self.lines[tid]})" for tid in unknown[:SHOWN])
        more = f" and {len(unknown) - SHOWN} more" if len(unknown) > SHOWN else ""
        return (
            f"{self.path}: {len(unknown)} of {len(self.labels)} labelled ids match no video under "
            f"the dataset directory and no trailer of the store: {shown}{more}; their labels are "
            "kept (check the ids are paths relative to the dataset directory)"
        )


def read_labels(path: str | Path) -> LabelsFile:
    """Parse a labels file (see the module docstring for every rule); raises LabelsError."""
    file = Path(path)
    if not file.is_file():
        raise LabelsError(f"labels file {file} does not exist")
    text, warnings = _decode(file)
    if file.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = _jsonl_rows(file, text)
    else:
        rows = _csv_rows(file, text)
    result = LabelsFile(file, {}, {}, warnings)
    same: list[str] = []
    for line, key, genres in rows:
        tid = normalise_id(key)
        if not tid:
            raise LabelsError(f"{file}:{line}: the id {key!r} is empty once normalised")
        if tid in result.labels:
            first = result.lines[tid]
            if result.labels[tid] != genres:
                raise LabelsError(
                    f"{file}: trailer {tid!r} is labelled {result.labels[tid]} on line {first} "
                    f"and {genres} on line {line}: keep one row per trailer"
                )
            same.append(f"{tid!r} (lines {first} and {line})")
            continue
        result.labels[tid] = genres
        result.lines[tid] = line
    if same:
        more = f" and {len(same) - SHOWN} more" if len(same) > SHOWN else ""
        result.warnings.append(
            f"{file}: {len(same)} trailer{'s are' if len(same) > 1 else ' is'} listed twice "
            "with the same genres, kept once: "
            f"{', '.join(same[:SHOWN])}{more}"
        )
    return result


def normalise_id(key: str) -> str:
    """`a/b.mp4` or `./a/b` -> `a/b` (the id `scan` gives that file)."""
    posix = PurePosixPath(key.strip().replace("\\", "/"))
    parts = [p for p in posix.parts if p not in (".", "")]
    text = "/".join(parts)
    suffix = PurePosixPath(text).suffix.lower().lstrip(".")
    from cinefeat.extract.scan import VIDEO_EXTENSIONS

    return text[: -len(suffix) - 1] if suffix in VIDEO_EXTENSIONS else text


def _decode(file: Path) -> tuple[str, list[str]]:
    """The file's text and a warning when it was not UTF-8."""
    data = file.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as error:
            raise LabelsError(f"{file}: starts like UTF-16 but is not ({error})") from None
    try:
        return data.decode("utf-8-sig"), []  # also plain UTF-8: the BOM is optional
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
    try:
        text, encoding = data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:  # the 5 bytes cp1252 leaves undefined: Latin-1 decodes them all
        text, encoding = data.decode("latin-1"), "Latin-1"
    return text, [
        f"{file} is not UTF-8 (first bad byte on line {line}): read it as {encoding}; "
        'save it as UTF-8 (Excel: "CSV UTF-8") if accented names look wrong'
    ]


def _split_genres(raw: str) -> list[str]:
    return sorted({g.strip() for g in raw.split(GENRE_SEPARATOR) if g.strip()})


def _header(file: Path, first_line: str) -> tuple[str, int, int]:
    """(delimiter, id column, genres column) from the header line."""
    for delimiter in DELIMITERS:
        names = [n.strip().lower() for n in next(csv.reader([first_line], delimiter=delimiter))]
        id_col = next((names.index(c) for c in ID_COLUMNS if c in names), None)
        label_col = next((names.index(c) for c in LABEL_COLUMNS if c in names), None)
        if id_col is not None and label_col is not None:
            return delimiter, id_col, label_col
    raise LabelsError(
        f"{file}:1: the header {first_line.strip()!r} needs an id column "
        f"({'/'.join(ID_COLUMNS)}) and a genres column ({'/'.join(LABEL_COLUMNS)}), "
        "separated by , or ; or a tab"
    )


def _csv_rows(file: Path, text: str) -> list[tuple[int, str, list[str]]]:
    """(line, id, genres) per data row."""
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise LabelsError(f"{file} is empty or starts with a blank line: expected `id,genres`")
    delimiter, id_col, label_col = _header(file, first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    out: list[tuple[int, str, list[str]]] = []
    width = 0
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if width == 0:
                width = len(row)
                continue
            if not row or not any(cell.strip() for cell in row):
                continue
            if reader.line_num > line:
                raise LabelsError(
                    f"{file}:{line}: a quoted field runs from line {line} to line "
                    f"{reader.line_num}: a quote that does not close? Close it, or remove it"
                )
            if len(row) != width:
                raise LabelsError(
                    f"{file}:{line}: {len(row)} field{'s' * (len(row) != 1)} but the header has "
                    f"{width} (separated by {delimiter!r}): separate genres with "
                    f"{GENRE_SEPARATOR!r}, quote a field that contains {delimiter!r}, and keep "
                    f"the empty cell of a trailer without labels (`id{delimiter}`)"
                )
            key = row[id_col].strip()
            if not key:
                raise LabelsError(f"{file}:{line}: no id in this row")
            genres = _split_genres(row[label_col])
            joined = next((g for g in genres if delimiter in g), None)
            if joined is not None:
                raise LabelsError(
                    f"{file}:{line}: the genre {joined!r} contains {delimiter!r}: separate "
                    f"genres with {GENRE_SEPARATOR!r}"
                )
            out.append((line, key, genres))
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise LabelsError(
                f"{file}:{start}: a quote in the row starting on this line never closes, so "
                "every row after it would be swallowed: close the quote or remove it"
            ) from None
        raise LabelsError(f"{file}:{reader.line_num}: bad quoting ({error})") from None
    return out


def _jsonl_rows(file: Path, text: str) -> list[tuple[int, str, list[str]]]:
    """(line, id, genres) per JSON object, types checked."""
    if text.lstrip().startswith("["):
        raise LabelsError(
            f"{file}: a JSON array; write JSON lines instead, one object per line such as "
            '{"id": "tt0111161", "genres": ["Drama"]}'
        )
    out: list[tuple[int, str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LabelsError(f"{file}:{number}: not valid JSON ({error})") from None
        if not isinstance(record, dict):
            raise LabelsError(f"{file}:{number}: each line must be a JSON object")
        fields = {str(k).strip().lower(): v for k, v in record.items()}
        key = next((fields[c] for c in ID_COLUMNS if fields.get(c) not in (None, "")), None)
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise LabelsError(
                f"{file}:{number}: need an id ({'/'.join(ID_COLUMNS)}) as a string, got {key!r}"
            )
        column = next((c for c in LABEL_COLUMNS if c in fields), None)
        if column is None:
            raise LabelsError(
                f"{file}:{number}: need a genres field ({'/'.join(LABEL_COLUMNS)}); "
                'use "genres": [] for a trailer without labels'
            )
        out.append((number, str(key), _json_genres(file, number, fields[column])))
    return out


def _json_genres(file: Path, line: int, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return _split_genres(value)
    if isinstance(value, list):
        bad = next(((i, g) for i, g in enumerate(value) if not isinstance(g, str)), None)
        if bad is not None:
            raise LabelsError(
                f"{file}:{line}: genre {bad[0] + 1} is {json.dumps(bad[1])} "
                f"({type(bad[1]).__name__}): genres must be strings"
            )
        return sorted({g.strip() for g in value if g.strip()})
    raise LabelsError(
        f"{file}:{line}: genres must be a list of strings or a {GENRE_SEPARATOR!r}-separated "
        f"string, got {json.dumps(value)}"
    )
