"""Reading order and merging of repeated lines (pure logic, known answers)."""

from __future__ import annotations

from cinefeat.extract.text.lines import TextLine, merge_repeated, reading_order, same_line


def boxed(text: str, x: float, y: float, height: float = 20.0, t: float = 0.0) -> TextLine:
    box = ((x, y), (x + 100, y), (x + 100, y + height), (x, y + height))
    return TextLine(text, t, t + 1.0, 0.99, box, text)


def test_reading_order_is_rows_top_to_bottom_then_left_to_right() -> None:
    lines = [
        boxed("world", 300, 52),
        boxed("second row", 10, 120),
        boxed("hello", 10, 48),
        boxed("title", 150, 5),
    ]
    assert [line.text for line in reading_order(lines)] == ["title", "hello", "world", "second row"]


def test_same_line_tolerates_punctuation_and_one_misread_character() -> None:
    assert same_line("Revenge is coming.", "Revenge is coming...")
    assert same_line("The Blender Foundatior", "The Blender Foundation")
    assert not same_line("Made with", "MoviePy")


def test_consecutive_reads_merge_into_one_line_spanning_them() -> None:
    frames = [
        [boxed("An unlucky bird", 0, 0, t=11.0)],
        [TextLine("An-unlucky bird", 12.0, 13.0, 0.9, None), boxed("bird", 0, 90, t=12.0)],
        [boxed("An unlucky bird", 0, 0, t=13.0)],
        [],
        [boxed("An unlucky bird", 0, 0, t=15.0)],
    ]
    merged = merge_repeated(frames)
    assert [(line.text, line.start_s, line.end_s) for line in merged] == [
        ("An unlucky bird", 11.0, 14.0),
        ("bird", 12.0, 13.0),
        ("An unlucky bird", 15.0, 16.0),  # the card came back after a gap: a new line
    ]


def test_merging_keeps_the_most_confident_read() -> None:
    low = TextLine("Foundatior", 0.0, 1.0, 0.8)
    high = TextLine("Foundation", 1.0, 2.0, 0.99)
    (merged,) = merge_repeated([[low], [high]])
    assert (merged.text, merged.start_s, merged.end_s) == ("Foundation", 0.0, 2.0)
