"""HDF5 export/import, read-only .zip stores, and the `cinefeat store` commands."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from store_testkit import assert_rows_equal, write_trailers

from cinefeat.cli.main import main
from cinefeat.store import FeatureStore, Hdf5FormatError, ReadOnlyStoreError, TrailerRecord
from cinefeat.store.hdf5 import export_hdf5, import_hdf5


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    store = FeatureStore.create(tmp_path / "s")
    write_trailers(store, [f"m{i}" for i in range(12)], run="one", commit_every=5)
    write_trailers(store, ["m1", "n1"], run="two", dims={"audio": 3})
    with store.writer(run="three") as writer:
        writer.add(TrailerRecord(id="broken", status="failed", stage="probe", error="no video"))
    store.set_labels(["Drama", "Comedy"], {"m1": ["Drama"], "m2": ["Comedy", "Drama"]})
    store.set_split("sorted", {"train": ["m1", "m2"], "val": ["m3"], "test": ["m4"]})
    return store


def _assert_same_store(a: FeatureStore, b: FeatureStore) -> None:
    assert a.ids() == b.ids() and a.features() == b.features()
    for tid in a.ids():
        assert a.record(tid) == b.record(tid)
        got, want = b[tid], a[tid]
        assert got.keys() == want.keys()
        for name in want:
            assert_rows_equal(got[name], want[name])
    for name in a.features():
        assert a.provenance(name) == b.provenance(name)
    names_a, labels_a = a.labels()
    names_b, labels_b = b.labels()
    assert names_a == names_b and labels_a.keys() == labels_b.keys()
    for tid in labels_a:
        np.testing.assert_array_equal(labels_a[tid], labels_b[tid])
    assert a.splits() == b.splits()


def test_hdf5_round_trip_keeps_everything(store: FeatureStore, tmp_path: Path) -> None:
    out = export_hdf5(store, tmp_path / "s.h5")
    with h5py.File(out) as h5:  # readable without cinefeat: the ragged layout
        offsets = h5["features/clip/offsets"][()]
        ids = [s.decode() for s in h5["features/clip/ids"][()]]
        start, stop = offsets[ids.index("m3")]
        np.testing.assert_array_equal(
            h5["features/clip/values"][start:stop], store.get("m3", "clip").values
        )
    imported = import_hdf5(out, tmp_path / "back")
    _assert_same_store(store, imported)
    _assert_same_store(store, FeatureStore.open(tmp_path / "back"))


def test_import_refuses_malformed_files(store: FeatureStore, tmp_path: Path) -> None:
    good = export_hdf5(store, tmp_path / "s.h5")
    not_hdf5 = tmp_path / "x.h5"
    not_hdf5.write_text("hello")
    with pytest.raises(Hdf5FormatError, match="not a readable HDF5"):
        import_hdf5(not_hdf5, tmp_path / "a")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(Hdf5FormatError, match="export-hdf5"):
        import_hdf5(foreign, tmp_path / "b")

    def damaged(name: str, edit) -> Path:
        path = tmp_path / name
        path.write_bytes(good.read_bytes())
        with h5py.File(path, "r+") as h5:
            edit(h5)
        return path

    no_spans = damaged("no_spans.h5", lambda h5: h5.__delitem__("features/clip/spans"))
    with pytest.raises(Hdf5FormatError, match=r"/features/clip: missing 'spans'"):
        import_hdf5(no_spans, tmp_path / "c")

    def shift_offsets(h5: h5py.File) -> None:
        offsets = h5["features/clip/offsets"][()]
        offsets[2] += 1
        h5["features/clip/offsets"][...] = offsets

    with pytest.raises(Hdf5FormatError, match="offsets do not tile"):
        import_hdf5(damaged("off.h5", shift_offsets), tmp_path / "d")

    def wrong_dim(h5: h5py.File) -> None:
        prov = json.loads(h5["features/clip"].attrs["provenance"])
        h5["features/clip"].attrs["provenance"] = json.dumps({**prov, "dim": 9})

    with pytest.raises(Hdf5FormatError, match="provenance says dim 9"):
        import_hdf5(damaged("dim.h5", wrong_dim), tmp_path / "e")
    for name in "abcde":
        assert not (tmp_path / name).exists() or FeatureStore.open(tmp_path / name).ids() == []


def _zip_store(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return out


def test_zip_store_reads_like_the_directory(store: FeatureStore, tmp_path: Path) -> None:
    zipped = FeatureStore.open(_zip_store(store.path, tmp_path / "s.zip"))
    assert zipped.read_only
    _assert_same_store(store, zipped)
    values, _, offsets = zipped.load_feature("clip")
    start, stop = offsets["m5"]
    np.testing.assert_array_equal(values[start:stop], store.get("m5", "clip").values)
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
        zipped.writer(run="x")
    with pytest.raises(ReadOnlyStoreError):
        zipped.set_split("other", {"train": []})


def test_cli_info_compact_export_import(store: FeatureStore, tmp_path: Path) -> None:
    runner = CliRunner()
    info = runner.invoke(main, ["store", "info", "--json", str(store.path)])
    assert info.exit_code == 0, info.output
    summary = json.loads(info.stdout)
    assert summary["trailers"] == 14 and summary["status"] == {"ok": 13, "failed": 1, "partial": 0}
    assert summary["features"]["audio"]["trailers"] == 2 and len(summary["parts"]) == 3
    text = runner.invoke(main, ["store", "info", str(store.path)])
    assert "13 ok, 1 failed" in text.stdout
    compacted = runner.invoke(main, ["store", "compact", str(store.path), "--rows-per-shard", "64"])
    assert compacted.exit_code == 0 and "compacted 3 part(s)" in compacted.stdout
    h5 = tmp_path / "out.h5"
    assert runner.invoke(main, ["store", "export-hdf5", str(store.path), str(h5)]).exit_code == 0
    back = runner.invoke(main, ["store", "import-hdf5", str(h5), str(tmp_path / "back")])
    assert back.exit_code == 0 and "14 trailers" in back.stdout
    _assert_same_store(FeatureStore.open(store.path), FeatureStore.open(tmp_path / "back"))
    # --json on the commands that write (docs/cli.md): one document, the same facts
    again = runner.invoke(main, ["store", "compact", str(store.path), "--json"])
    assert json.loads(again.stdout)["part"] is None  # already compact
    exported = runner.invoke(main, ["store", "export-hdf5", str(store.path), str(h5), "--json"])
    assert json.loads(exported.stdout) == {"store": str(store.path), "out": str(h5)}
    h5_back = runner.invoke(main, ["store", "import-hdf5", str(h5), str(tmp_path / "b2"), "--json"])
    assert json.loads(h5_back.stdout)["trailers"] == 14
    missing = runner.invoke(main, ["store", "info", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "not a cinefeat store" in missing.output


def _dup_trailer(h5: h5py.File) -> None:
    ids = h5["trailers/ids"][()]
    ids[1] = ids[0]
    h5["trailers/ids"][...] = ids


def _orphan_rows(h5: h5py.File) -> None:
    ids = h5["features/clip/ids"][()]
    ids[0] = b"nobody"
    del h5["features/clip/ids"]
    h5.create_dataset("features/clip/ids", data=ids, dtype=h5py.string_dtype("utf-8"))


def _overlapping_split(h5: h5py.File) -> None:
    h5["splits"].attrs["sorted"] = json.dumps({"train": ["m1"], "test": ["m1"]})


def _repeated_labels(h5: h5py.File) -> None:
    h5["labels"].attrs["label_names"] = json.dumps(["Drama", "Drama"])


def _feature_is_a_dataset(h5: h5py.File) -> None:
    h5["features/broken"] = np.zeros(3)


def _record_of_another_trailer(h5: h5py.File) -> None:
    records = h5["trailers/records"][()]
    records[0], records[1] = records[1], records[0]
    h5["trailers/records"][...] = records


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_dup_trailer, r"/trailers/ids\[1\] is .* again"),
        (_orphan_rows, r"trailer 'nobody', which has no record"),
        (_overlapping_split, r"'m1' is in both 'train' and 'test'"),
        (_repeated_labels, "label names repeat"),
        (_feature_is_a_dataset, "/features/broken is a dataset"),
        (_record_of_another_trailer, r"records\[0\] describes trailer"),
    ],
)
def test_import_refuses_inconsistent_files_before_writing(
    store: FeatureStore, tmp_path: Path, edit, message: str
) -> None:
    path = export_hdf5(store, tmp_path / "s.h5")
    with h5py.File(path, "r+") as h5:
        edit(h5)
    with pytest.raises(Hdf5FormatError, match=message):
        import_hdf5(path, tmp_path / "back")
    assert not (tmp_path / "back").exists()
