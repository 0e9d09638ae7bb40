"""The reference reader printed in docs/store-format.md reads every writer path's store exactly
as `FeatureStore.open` does (ids, records, status, rows, spans, texts, provenance, labels, splits).

The reader is taken from the doc itself (between the `reference-reader` marker comments) and
exec'd, so the published code is the tested code. Also here: the spec decisions that the reader
and cinefeat must share (ties, a part without a commit, a failed record keeping older features,
unknown record keys, zips made with `zip -r`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from store_testkit import PROVENANCE, rows_for, write_trailers

from cinefeat.store import FeatureStore, TrailerRecord
from cinefeat.store.errors import NotAStoreError

DOC = Path(__file__).resolve().parents[2] / "docs" / "store-format.md"
BLOCK = re.compile(
    r"<!-- reference-reader:begin -->\s*```python\n(.*?)```\s*<!-- reference-reader:end -->",
    re.S,
)


def reference_reader() -> dict[str, Any]:
    """The namespace of the doc's reader block (fails if the block is gone)."""
    found = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(found) == 1, "docs/store-format.md must hold exactly one reference reader block"
    namespace: dict[str, Any] = {"__name__": "reference_reader"}
    exec(compile(found[0], str(DOC), "exec"), namespace)
    return namespace


READER = reference_reader()


def read(path: Path) -> dict[str, Any]:
    return READER["read_store"](path)


def assert_reads_like_cinefeat(path: Path) -> dict[str, Any]:
    """Everything the reader returns for `path` equals `FeatureStore.open(path)`, bit for bit."""
    seen = read(path)
    store = FeatureStore.open(path, read_only=True)
    assert sorted(seen["trailers"]) == store.ids()
    ok = set(store.ids(status="ok"))
    for tid, entry in seen["trailers"].items():
        assert entry["record"] == asdict(store.record(tid)), tid
        assert (entry["status"] == "ok") == (tid in ok), tid
    assert sorted(seen["features"]) == store.features()
    for feature, rows in seen["features"].items():
        assert seen["provenance"][feature] == store.provenance(feature)
        assert set(rows) == store.committed(feature), feature
        for tid, (values, spans, texts) in rows.items():
            expected = store.get(tid, feature)
            assert values.dtype == expected.values.dtype and values.shape == expected.values.shape
            assert values.tobytes() == expected.values.tobytes(), (tid, feature)
            assert spans.dtype == np.float64 and spans.tobytes() == expected.spans.tobytes()
            assert texts == expected.texts, (tid, feature)
    names, labels = store.labels()
    assert seen["labels"][0] == names
    assert sorted(seen["labels"][1]) == sorted(labels)
    for tid, row in labels.items():
        np.testing.assert_array_equal(seen["labels"][1][tid], row)
    assert seen["splits"] == store.splits()
    return seen


def _local_store(path: Path) -> FeatureStore:
    """Two writers, a re-extraction that failed, labels and a split: the local writer path."""
    store = FeatureStore.create(path)
    write_trailers(store, ["a", "b/c", "d", "x"], run="run", commit_every=2)
    write_trailers(store, ["e", "f"], run="run-2", worker="w-1")
    with store.writer(run="retry") as writer:  # x fails on a rerun: its old rows stay readable
        writer.add(TrailerRecord(id="x", status="failed", stage="decode", error="boom"))
    store.set_labels(["action", "drama"], {"a": ["action"], "e": ["action", "drama"]})
    store.set_split("main", {"train": ["a", "b/c", "d"], "test": ["e"]})
    return store


@pytest.fixture
def local(tmp_path: Path) -> Path:
    _local_store(tmp_path / "s")
    return tmp_path / "s"


def test_local_writer_store(local: Path) -> None:
    seen = assert_reads_like_cinefeat(local)
    assert len(FeatureStore.open(local).parts()) == 3
    # a failed last record keeps the features committed before it (reading rule 4)
    assert seen["trailers"]["x"]["status"] == "failed"
    assert "x" in seen["features"]["clip"] and "x" in seen["features"]["ocr"]


def test_zipped_store_stored_and_deflated(local: Path, tmp_path: Path) -> None:
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        target = tmp_path / f"s{compression}.zip"
        with zipfile.ZipFile(target, "w", compression) as archive:
            for file in sorted(local.rglob("*")):
                archive.write(file, file.relative_to(local).as_posix())  # folders too, as zip -r
        assert_reads_like_cinefeat(target)


def test_compacted_store(local: Path) -> None:
    from cinefeat.store.compact import compact

    before = read(local)
    compact(FeatureStore.open(local), rows_per_shard=64)
    assert len(FeatureStore.open(local).parts()) == 1
    after = assert_reads_like_cinefeat(local)
    assert after["trailers"] == before["trailers"]


def test_hdf5_round_trip(local: Path, tmp_path: Path) -> None:
    from cinefeat.store.hdf5 import export_hdf5, import_hdf5

    export_hdf5(FeatureStore.open(local), tmp_path / "s.h5")
    import_hdf5(tmp_path / "s.h5", tmp_path / "back")
    seen = assert_reads_like_cinefeat(tmp_path / "back")
    assert seen["trailers"] == read(local)["trailers"]


def test_archive_zipped_extracted_and_grouped(local: Path, tmp_path: Path) -> None:
    from cinefeat.store.archive import build_archive, extract_archive

    build_archive(local, tmp_path / "arch")
    assert_reads_like_cinefeat(tmp_path / "arch")
    extract_archive(tmp_path / "arch", tmp_path / "plain")
    assert_reads_like_cinefeat(tmp_path / "plain")
    build_archive(local, tmp_path / "grouped", groups={"all": ["clip", "ocr"]})
    seen = assert_reads_like_cinefeat(tmp_path / "grouped")
    assert sorted(seen["features"]) == ["clip", "ocr"]
    (tmp_path / "arch" / "feature-ocr.zip").unlink()  # a feature not downloaded is absent
    assert sorted(assert_reads_like_cinefeat(tmp_path / "arch")["features"]) == ["clip"]


def _set_committed_at(part: zarr.Group, when: float) -> None:
    count = part.attrs["commit"]["trailers"]
    part["trailers"]["committed_at"][:count] = np.full(count, when)


def _set_created(part: zarr.Group, when: float) -> None:
    info = dict(part.attrs["part"])
    info["created"] = when
    part.attrs["part"] = info


@pytest.mark.parametrize("later", [0, 1])
def test_equal_commit_times_go_to_the_later_part(tmp_path: Path, later: int) -> None:
    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, ["t"], run="one", dims={"clip": 4})
    with store.writer(run="two") as writer:
        writer.declare_feature("clip", provenance=PROVENANCE, dim=4)
        writer.add(TrailerRecord(id="t", duration_s=99.0), {"clip": rows_for(5, 3, 4)})
    parts = dict(zarr.open_group(tmp_path / "s" / "parts", mode="r+").groups())
    names = sorted(parts, key=lambda n: parts[n].attrs["part"]["created"])
    for position, name in enumerate(names):
        _set_committed_at(parts[name], 1000.0)
        _set_created(parts[name], 10.0 + (position == later))  # `later` is created last
    seen = assert_reads_like_cinefeat(tmp_path / "s")
    assert (seen["trailers"]["t"]["record"]["duration_s"] == 99.0) == (later == 1)
    assert (len(seen["features"]["clip"]["t"][0]) == 3) == (later == 1)


def test_a_part_without_commit_is_skipped(local: Path) -> None:
    from cinefeat.store.validate import validate

    victim = FeatureStore.open(local).parts()[0]  # its `supersedes` must not hide this part
    parts = zarr.open_group(local / "parts", mode="r+")
    foreign = parts.create_group("foreign", attributes={"part": {"supersedes": [victim]}})
    foreign.create_group("trailers").create_array("ids", shape=(1,), dtype=str)
    assert_reads_like_cinefeat(local)  # cinefeat used to refuse the whole store
    assert victim in FeatureStore.open(local).parts()
    report = validate(FeatureStore.open(local))
    assert report.ok
    assert [p.kind for p in report.problems if p.part == "foreign"] == ["uncommitted"]


def test_unknown_record_keys_read_as_extra_and_are_copied_verbatim(
    local: Path, tmp_path: Path
) -> None:
    from cinefeat.store.compact import compact
    from cinefeat.store.hdf5 import export_hdf5, import_hdf5

    store = FeatureStore.open(local)
    part, pos = store.index.trailers["a"]
    group = store.index.parts[part].group
    raw = json.loads(store.index.parts[part].record_json(pos))
    raw["future_field"] = {"n": 1}  # a newer writer's key, at the top level
    raw["extra"] = {"future_field": "older", "kept": True}
    group["trailers"]["records"][pos] = json.dumps(raw)
    stored = json.dumps(raw)
    store.refresh()
    assert store.record("a").extra == {"future_field": {"n": 1}, "kept": True}
    assert_reads_like_cinefeat(local)
    export_hdf5(store, tmp_path / "s.h5")
    import_hdf5(tmp_path / "s.h5", tmp_path / "back")
    compact(FeatureStore.open(local))
    for path in (local, tmp_path / "back"):
        copy = FeatureStore.open(path)
        loc = copy.index.trailers["a"]
        assert copy.index.parts[loc[0]].record_json(loc[1]) == stored  # byte for byte
        assert_reads_like_cinefeat(path)


def _zip_r(store: Path, target: Path) -> None:
    """What `zip -r target store` makes: every key under `store.name/`, folders included."""
    if shutil.which("zip"):
        subprocess.run(["zip", "-qr", str(target), store.name], cwd=store.parent, check=True)
        return
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(store.rglob("*")):
            archive.write(file, file.relative_to(store.parent).as_posix())


def test_zip_of_the_folder_gets_a_clear_error(local: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cinefeat.cli.main import main

    target = tmp_path / "s.zip"
    _zip_r(local, target)
    with pytest.raises(NotAStoreError, match=r"inside the folder 's/'.*cd s && zip -r -0"):
        FeatureStore.open(target)
    result = CliRunner().invoke(main, ["store", "info", str(target)])
    assert result.exit_code != 0 and "inside the folder 's/'" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(NotAStoreError, match="not a readable zip"):
        FeatureStore.open(tmp_path / "junk.zip")


def _colour_video(path: Path, colours: list[str]) -> None:
    """One second per colour, hard cuts (what tests/extract/conftest.py's make_cuts_video does)."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error"]
    for colour in colours:
        command += ["-f", "lavfi", "-i", f"color=c={colour}:s=160x90:r=25:d=1"]
    graph = "".join(f"[{i}:v]" for i in range(len(colours))) + f"concat=n={len(colours)}:v=1[v]"
    command += ["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    subprocess.run([*command, str(path)], check=True)


@pytest.mark.slow
def test_ray_engine_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    from cinefeat.extract import ray_engine
    from cinefeat.extract.ray_engine import run_ray
    from cinefeat.extract.runner import RunOptions
    from cinefeat.extract.scan import scan

    videos = tmp_path / "d"
    videos.mkdir()
    for i in range(4):
        _colour_video(videos / f"t-{i}.mp4", ["red", "blue"] if i % 2 else ["green"])
    FeatureStore.create(tmp_path / "s")
    monkeypatch.setattr(ray_engine, "CHUNK", 2)  # two chunks: each actor's part gets one
    summary = run_ray(
        tmp_path / "s",
        ["colorhist"],
        {},
        RunOptions(run_id="r-1", worker_id="w"),  # a run id with '-': part names stay opaque
        scan(videos).trailers,
        actors=2,
        cpus_per_actor=0.5,
        init_options={"num_cpus": 1, "object_store_memory": 80 * 1024**2},
    )
    assert (summary.ok, summary.failed) == (4, 0)
    assert not ray.is_initialized()
    store = FeatureStore.open(tmp_path / "s")
    assert [part.commit["trailers"] for part in store.index.parts] == [2, 2]
    seen = assert_reads_like_cinefeat(tmp_path / "s")
    assert sorted(seen["features"]["colorhist"]) == [f"t-{i}" for i in range(4)]
    assert all(len(rows[0]) for rows in seen["features"]["colorhist"].values())
