"""The ARFF / MULAN XML reader on the quoting real MULAN files use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinefeat.fuse.mulan import ArffError, label_names_from_xml, read_arff

# The layout of MULAN's birds files: label attributes whose quoted names hold a backslash-escaped
# quote (`'Swainson\'s Thrush'`), Weka's escaping, decoded as liac-arff does (renatopp/liac-arff,
# arff.py, `_unquote`); the XML header writes the same name with the &apos; entity.
BIRDS_ARFF = r"""@relation birds
@attribute audio_1 numeric
@attribute "spectral \"peak\"" numeric
@attribute 'Brown Creeper' {0,1}
@attribute 'Swainson\'s Thrush' {0,1}
@attribute 'Hammond\'s Flycatcher' {0,1}
@data
0.5,1.5,1,0,1
-2.0,3.0,0,1,0
{0 4.0,3 1}
"""
BIRDS_XML = """<?xml version="1.0" encoding="utf-8"?>
<labels xmlns="http://mulan.sourceforge.net/labels">
<label name="Brown Creeper"></label>
<label name="Swainson&apos;s Thrush"></label>
<label name="Hammond's Flycatcher"></label>
</labels>
"""


def test_escaped_quotes_in_attribute_names(tmp_path: Path) -> None:
    (tmp_path / "birds.arff").write_text(BIRDS_ARFF)
    (tmp_path / "birds.xml").write_text(BIRDS_XML)
    names = label_names_from_xml(tmp_path / "birds.xml")
    assert names == ["Brown Creeper", "Swainson's Thrush", "Hammond's Flycatcher"]
    table = read_arff(tmp_path / "birds.arff", names)
    assert table.feature_names == ["audio_1", 'spectral "peak"']
    np.testing.assert_array_equal(table.labels, [[1, 0, 1], [0, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(table.features, [[0.5, 1.5], [-2.0, 3.0], [4.0, 0.0]])


def test_unreadable_attribute_line_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.arff").write_text("@relation r\n@attribute 'open numeric\n@data\n1\n")
    with pytest.raises(ArffError, match=r"bad.arff:2"):
        read_arff(tmp_path / "bad.arff", [])
