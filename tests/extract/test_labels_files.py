"""Labels files as their producers write them: Excel's CSV flavours, scrapers' JSON lines.

Producer formats (facts, from the sources named):
- Python's `csv.excel` dialect ("the usual properties of Excel-generated CSV files": `,`, `"`
  doubled inside quotes, CRLF line ends; python/cpython Lib/csv.py) writes the rows here;
- Excel's "CSV UTF-8" adds the UTF-8 byte-order mark EF BB BF (Excel looks for it to recognise
  UTF-8: edmundofuentes/blog source/_posts/2020-06-13-excel-utf8-csv-bom-string.md);
- Excel's plain "CSV" writes the locale code page, Windows-1252 in the US and western Europe
  (https://donatstudios.com/CSV-An-Encoding-Nightmare), and locales with a decimal comma use `;`
  as the separator (https://chase-seibert.github.io/blog/2014/07/30/international-csv-files-python.html);
- Excel's "Unicode Text" is tab-separated UTF-16 LE with the BOM FF FE and CRLF (a hex dump of
  one: http://www.herongyang.com/Unicode/Excel-Save-File-in-Unicode-Text-txt.html).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

import pytest

from cinefeat.extract.labels import LabelsError, read_labels


def excel_csv(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, dialect="excel", delimiter=delimiter).writerows(rows)
    return buffer.getvalue()


ROWS = [
    ["id", "title", "genres"],
    ["movienet/tt0111161.mp4", "The Shawshank Redemption", "Drama"],
    ["amélie", "Le Fabuleux Destin d'Amélie Poulain", "Comédie|Romance"],
    ["untagged", "Quoted, with a comma", ""],  # the empty cell: a trailer with no labels
]
EXPECTED = {
    "movienet/tt0111161": ["Drama"],
    "amélie": ["Comédie", "Romance"],
    "untagged": [],
}


def test_excel_csv_utf8_bom_crlf_and_an_empty_genres_cell(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_bytes(codecs.BOM_UTF8 + excel_csv(ROWS).encode("utf-8"))
    assert file.read_bytes().count(b"\r\n") == 4 and b'"Quoted, with a comma"' in file.read_bytes()
    result = read_labels(file)
    assert result.labels == EXPECTED and result.warnings == []
    assert result.lines == {"movienet/tt0111161": 2, "amélie": 3, "untagged": 4}
    assert result.vocabulary == ["Comédie", "Drama", "Romance"]


def test_older_excel_windows_1252_is_read_with_a_warning(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_bytes(excel_csv(ROWS).encode("cp1252"))
    result = read_labels(file)
    assert result.labels == EXPECTED
    assert result.warnings == [
        f"{file} is not UTF-8 (first bad byte on line 3): read it as Windows-1252; save it as "
        'UTF-8 (Excel: "CSV UTF-8") if accented names look wrong'
    ]


def test_semicolon_csv_of_european_excel(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_bytes(codecs.BOM_UTF8 + excel_csv(ROWS, delimiter=";").encode("utf-8"))
    assert read_labels(file).labels == EXPECTED


def test_excel_unicode_text_is_utf16_tab_separated(tmp_path: Path) -> None:
    file = tmp_path / "labels.txt"
    file.write_bytes(codecs.BOM_UTF16_LE + excel_csv(ROWS, delimiter="\t").encode("utf-16-le"))
    assert read_labels(file).labels == EXPECTED


def test_unbalanced_quote_is_an_error_naming_its_line_not_a_swallowed_row(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_bytes(b'id,genres\r\na,Drama\r\nb,"Comedy\r\nc,Horror\r\nd,Drama\r\n')
    with pytest.raises(LabelsError) as error:
        read_labels(file)
    assert str(error.value) == (
        f"{file}:3: a quote in the row starting on this line never closes, so every row after "
        "it would be swallowed: close the quote or remove it"
    )


def test_a_quote_closing_rows_later_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_bytes(b'id,genres\r\na,"Drama\r\nb,Comedy"\r\nc,Horror\r\n')
    with pytest.raises(LabelsError, match=r"labels\.csv:2: a quoted field runs from line 2 to "):
        read_labels(file)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (b"a,Drama,Comedy", r"labels\.csv:3: 3 fields but the header has 2 \(separated by ','\)"),
        (b"a", r"labels\.csv:3: 1 field but the header has 2 .* trailer without labels \(`id,`\)"),
        (b'a,"Drama,Comedy"', r"labels\.csv:3: the genre 'Drama,Comedy' contains ','"),
        (b",Drama", r"labels\.csv:3: no id in this row"),
    ],
)
def test_ragged_rows_are_errors_naming_the_line(tmp_path: Path, row: bytes, message: str) -> None:
    file = tmp_path / "labels.csv"
    file.write_bytes(b"id,genres\r\nz,Horror\r\n" + row + b"\r\n")
    with pytest.raises(LabelsError, match=message):
        read_labels(file)


def test_header_without_an_id_column_says_so_on_line_1(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_bytes(codecs.BOM_UTF8 + b"name,kind\r\na,b\r\n")
    with pytest.raises(LabelsError, match=r"labels\.csv:1: the header 'name,kind' needs an id"):
        read_labels(file)


def test_duplicate_rows_same_genres_warn_with_both_lines(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_text("id,genres\na.mp4,Drama|Horror\nb,Comedy\na,Horror|Drama\n", newline="")
    result = read_labels(file)
    assert result.labels == {"a": ["Drama", "Horror"], "b": ["Comedy"]}
    assert result.lines["a"] == 2
    assert result.warnings == [
        f"{file}: 1 trailer is listed twice with the same genres, kept once: 'a' (lines 2 and 4)"
    ]


def test_duplicate_rows_different_genres_are_an_error_naming_both_lines(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_text("id,genres\na.mp4,Drama\nb,Comedy\na.mkv,Horror\n", newline="")
    with pytest.raises(LabelsError) as error:
        read_labels(file)
    assert str(error.value) == (
        f"{file}: trailer 'a' is labelled ['Drama'] on line 2 and ['Horror'] on line 4: keep one "
        "row per trailer"
    )


def test_unknown_ids_are_listed_first_few_with_lines(tmp_path: Path) -> None:
    file = tmp_path / "labels.csv"
    file.write_text("id,genres\n" + "".join(f"t{i},Drama\n" for i in range(9)), newline="")
    result = read_labels(file)
    assert result.unknown_ids({f"t{i}" for i in range(9)}) is None
    warning = result.unknown_ids({"t0", "t1"})
    assert warning == (
        f"{file}: 7 of 9 labelled ids match no video under the dataset directory and no trailer "
        "of the store: 't2' (line 4), 't3' (line 5), 't4' (line 6), 't5' (line 7), 't6' (line 8)"
        " and 2 more; their labels are kept (check the ids are paths relative to the dataset "
        "directory)"
    )


def jsonl(records: list[object]) -> bytes:
    """One `json.dumps` per line, as scrapers write (non-ASCII escaped or not)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def test_json_lines_types_that_are_accepted(tmp_path: Path) -> None:
    file = tmp_path / "labels.jsonl"
    file.write_bytes(
        jsonl(
            [
                {"id": "a", "genres": ["Drama", " Horror "]},
                {"path": "b.mkv", "genres": "Comedy|Drama"},
                {"id": "c", "genres": None},
                {"id": "d", "genres": []},
                {"ID": 1234, "Genres": ["Drama"]},  # keys any case, a numeric id
            ]
        )
    )
    result = read_labels(file)
    assert result.labels == {
        "a": ["Drama", "Horror"],
        "b": ["Comedy", "Drama"],
        "c": [],
        "d": [],
        "1234": ["Drama"],
    }
    assert result.lines == {"a": 1, "b": 2, "c": 3, "d": 4, "1234": 5}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "b", "genres": ["Drama", 3]}, r":2: genre 2 is 3 \(int\): genres must be strings"),
        ({"id": "b", "genres": [["Drama"]]}, r':2: genre 1 is \["Drama"\] \(list\)'),
        ({"id": "b", "genres": {"Drama": 1}}, r':2: genres must be a list of strings .*\{"Drama"'),
        ({"id": ["b"], "genres": []}, r":2: need an id .* as a string, got \['b'\]"),
        ({"id": "b"}, r':2: need a genres field .* use "genres": \[\]'),
    ],
)
def test_json_lines_wrong_types_name_the_line(tmp_path: Path, record: dict, message: str) -> None:
    file = tmp_path / "labels.jsonl"
    file.write_bytes(jsonl([{"id": "a", "genres": ["Drama"]}, record]))
    with pytest.raises(LabelsError, match=r"labels\.jsonl" + message):
        read_labels(file)


def test_json_latin1_and_json_array(tmp_path: Path) -> None:
    latin = tmp_path / "labels.jsonl"
    latin.write_bytes('{"id": "amélie", "genres": ["Comédie"]}\n'.encode("latin-1"))
    result = read_labels(latin)
    assert result.labels == {"amélie": ["Comédie"]}
    assert "is not UTF-8 (first bad byte on line 1)" in result.warnings[0]
    array = tmp_path / "labels.json"
    array.write_text(json.dumps([{"id": "a", "genres": ["Drama"]}], indent=1))
    with pytest.raises(LabelsError, match="a JSON array; write JSON lines instead"):
        read_labels(array)
