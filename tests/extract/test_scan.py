"""Dataset scanning: ids, collisions, symlink loops, shards, labels files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cinefeat.extract.labels import LabelsError, read_labels
from cinefeat.extract.scan import DatasetError, Shard, scan


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_ids_are_relative_paths_without_extension(tmp_path: Path) -> None:
    touch(tmp_path, "b/z.mkv", "a.mp4", "b/ünï cödé with space.MOV", "notes.txt", "c/d/e.webm")
    ids = [t.id for t in scan(tmp_path).trailers]
    assert ids == ["a", "b/z", "b/ünï cödé with space", "c/d/e"]


def test_collision_names_both_files_and_keeps_the_rest(tmp_path: Path) -> None:
    touch(tmp_path, "x/a.mp4", "x/a.mkv", "x/b.mp4")
    result = scan(tmp_path)
    assert [t.id for t in result.trailers] == ["x/b"]
    (collision,) = result.collisions
    assert collision.id == "x/a"
    assert collision.paths == (tmp_path / "x/a.mkv", tmp_path / "x/a.mp4")
    assert collision.message.startswith(
        f"{tmp_path}/x/a.mkv and {tmp_path}/x/a.mp4 both map to trailer id 'x/a'"
    )
    assert "rename or remove all but one" in collision.message
    assert "--extensions (e.g. without mp4)" in collision.message
    assert result.found_ids == {"x/a", "x/b"}


def test_collisions_count_in_limit_and_belong_to_one_shard(tmp_path: Path) -> None:
    touch(tmp_path, "a.mp4", "b.mkv", "b.webm", "b.avi", "c.mp4")
    limited = scan(tmp_path, limit=2)
    assert [t.id for t in limited.trailers] == ["a"]
    assert [c.id for c in limited.collisions] == ["b"]
    assert "all map to trailer id 'b'" in limited.collisions[0].message
    assert "so none was extracted" in limited.collisions[0].message
    owners = [scan(tmp_path, shard=Shard(i, 2)).collisions for i in range(2)]
    assert sorted(len(c) for c in owners) == [0, 1]


def test_symlink_loop_is_skipped_not_followed_forever(tmp_path: Path) -> None:
    touch(tmp_path, "d/a.mp4")
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    result = scan(tmp_path)
    assert [t.id for t in result.trailers] == ["d/a"]
    assert result.skipped_links == [tmp_path / "d" / "loop"]


def test_limit_and_deterministic_disjoint_shards(tmp_path: Path) -> None:
    touch(tmp_path, *[f"t{i:02d}.mp4" for i in range(40)])
    assert [t.id for t in scan(tmp_path, limit=3).trailers] == ["t00", "t01", "t02"]
    shards = [{t.id for t in scan(tmp_path, shard=Shard(i, 3)).trailers} for i in range(3)]
    assert sum(map(len, shards)) == 40 and set().union(*shards) == {f"t{i:02d}" for i in range(40)}
    assert all(len(s) > 5 for s in shards)
    assert shards[1] == {t.id for t in scan(tmp_path, shard=Shard.parse("1/3")).trailers}


@pytest.mark.parametrize("text", ["3/3", "a/b", "1", "-1/2"])
def test_bad_shard_text(text: str) -> None:
    with pytest.raises(DatasetError, match="--shard"):
        Shard.parse(text)


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        scan(tmp_path / "nope")


def test_labels_csv_and_jsonl_agree(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("id,genres\nb/z.mkv,Drama|Comedy\na, Horror \n")
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text(
        '{"path": "b/z.mkv", "genres": "Drama|Comedy"}\n\n{"id": "a", "genres": ["Horror"]}\n'
    )
    expected = {"b/z": ["Comedy", "Drama"], "a": ["Horror"]}
    for file in (csv, jsonl):
        result = read_labels(file)
        assert (result.labels, result.vocabulary) == (expected, ["Comedy", "Drama", "Horror"])
    assert read_labels(csv).lines == {"b/z": 2, "a": 3}
    assert read_labels(jsonl).lines == {"b/z": 1, "a": 3}


def test_labels_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "l.jsonl"
    bad.write_text('{"id": "a", "genres": "X"}\n{oops\n')
    with pytest.raises(LabelsError, match=r"l\.jsonl:2: not valid JSON"):
        read_labels(bad)
    nocol = tmp_path / "l.csv"
    nocol.write_text("name,kind\na,b\n")
    with pytest.raises(LabelsError, match=r"l\.csv:1: the header 'name,kind' needs an id column"):
        read_labels(nocol)
