"""The `h5` importer reads HDF5 files written with h5py the two ways users write them, and gives
back every vector, label, split and id; malformed files are refused naming the dataset."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cinefeat.cli.main import main
from cinefeat.store import FeatureStore
from cinefeat.store.importers import ReleaseFormatError, import_release

GENRES = ["action", "comedy", "drama"]


def _per_sample_file(path, rng) -> dict:
    """A per-video extraction loop: `h5[f"{feature}/{vid}"] = rows`, labels as attributes."""
    values: dict[str, dict[str, np.ndarray]] = {"clip": {}, "audio": {}}
    labels = {"vidA": ["action"], "vid-B": ["comedy", "drama"], "vid_C": []}
    with h5py.File(path, "w") as h5:
        h5.attrs["label_names"] = GENRES
        h5.create_group("clip").attrs["model"] = "CLIP ViT-B/32"
        for i, vid in enumerate(labels):
            rows = rng.standard_normal((3 + i, 8)).astype(np.float32)
            h5[f"clip/{vid}"] = rows
            h5[f"clip/{vid}"].attrs["labels"] = labels[vid]
            values["clip"][vid] = rows
            if i != 1:  # one video has no audio
                vector = rng.standard_normal(4).astype(np.float16)  # one (dim,) vector
                h5[f"audio/{vid}"] = vector
                values["audio"][vid] = vector.reshape(1, -1)
    return {"values": values, "labels": labels}


def test_per_sample_datasets_round_trip_with_attribute_labels(tmp_path):
    source = _per_sample_file(tmp_path / "feats.h5", np.random.default_rng(0))
    summary = import_release("h5", tmp_path / "feats.h5", tmp_path / "out.zarr")
    store = FeatureStore.open(tmp_path / "out.zarr")
    assert sorted(store.ids()) == sorted(source["labels"])
    for feature, by_id in source["values"].items():
        for vid, rows in by_id.items():
            got = store.get(vid, feature)
            np.testing.assert_array_equal(got.values, rows)
            np.testing.assert_array_equal(got.spans[:, 0], np.arange(len(rows)))
    assert "audio" not in store.record("vid-B").feature_status  # absent, not empty
    names, labels = store.labels()
    assert names == GENRES
    for vid, listed in source["labels"].items():
        assert [n for n, v in zip(names, labels[vid], strict=True) if v] == listed
    provenance = store.provenance("clip")
    assert provenance["model"] == "CLIP ViT-B/32" and provenance["layout"] == "per-sample"
    assert summary.rows == {"clip": 3 + 4 + 5, "audio": 2}
    rerun = import_release("h5", tmp_path, tmp_path / "out.zarr")  # the folder works too
    assert rerun.imported == 0 and rerun.already_in_store == 3


def test_one_matrix_per_feature_with_ids_labels_and_split(tmp_path):
    rng = np.random.default_rng(1)
    ids = ["tt001", "tt002", "tt003", "tt004"]
    clip = rng.standard_normal((4, 6)).astype(np.float32)
    multihot = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0], [1, 1, 0]], dtype=np.uint8)
    split = ["train", "train", "val", "test"]
    with h5py.File(tmp_path / "batch.hdf5", "w") as h5:  # after a batch run
        h5.create_dataset("ids", data=ids)  # h5py stores str lists as variable-length utf-8
        h5.create_dataset("clip", data=clip)
        h5.create_dataset("labels", data=multihot).attrs["names"] = GENRES
        h5.create_dataset("split", data=np.array(split, dtype="S5"))  # fixed-length bytes
    result = CliRunner().invoke(
        main,
        ["import", "h5", str(tmp_path / "batch.hdf5"), "--store", str(tmp_path / "o.zarr"),
         "-o", "split_name=mine", "-o", "model=my extractor"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "o.zarr")
    assert sorted(store.ids()) == ids
    for i, tid in enumerate(ids):
        np.testing.assert_array_equal(store.get(tid, "clip").values, clip[i : i + 1])
    names, labels = store.labels()
    assert names == GENRES
    for i, tid in enumerate(ids):
        np.testing.assert_array_equal(labels[tid], multihot[i])
    assert store.splits()["mine"] == {"train": ids[:2], "val": ids[2:3], "test": ids[3:]}
    assert store.provenance("clip")["model"] == "my extractor"


def test_a_matrix_without_ids_is_refused_naming_the_dataset(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as h5:
        h5.create_dataset("clip", data=np.zeros((3, 4), np.float32))
    with pytest.raises(ReleaseFormatError, match=r"/clip .*no /ids"):
        import_release("h5", tmp_path / "f.h5", tmp_path / "o.zarr")
    assert not (tmp_path / "o.zarr").exists()


def test_rows_and_ids_of_different_lengths_are_refused(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as h5:
        h5.create_dataset("ids", data=["a", "b"])
        h5.create_dataset("clip", data=np.zeros((3, 4), np.float32))
    with pytest.raises(ReleaseFormatError, match="3 rows but /ids has 2"):
        import_release("h5", tmp_path / "f.h5", tmp_path / "o.zarr")


def test_a_string_dataset_and_a_non_hdf5_file_are_clear_errors(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as h5:
        h5.create_dataset("notes/vid", data=np.array([b"text"]))
    with pytest.raises(ReleaseFormatError, match="not numbers"):
        import_release("h5", tmp_path / "f.h5", tmp_path / "o.zarr")
    (tmp_path / "g.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ReleaseFormatError, match=r"g\.h5 is not a readable HDF5"):
        import_release("h5", tmp_path / "g.h5", tmp_path / "o.zarr")


def test_a_cinefeat_export_points_to_import_hdf5(tmp_path):
    with h5py.File(tmp_path / "export.h5", "w") as h5:
        h5.attrs["format"] = "cinefeat-store-hdf5"  # store/hdf5.py HDF5_FORMAT
        h5.create_group("features")
    with pytest.raises(ReleaseFormatError, match="cinefeat store import-hdf5"):
        import_release("h5", tmp_path / "export.h5", tmp_path / "o.zarr")
