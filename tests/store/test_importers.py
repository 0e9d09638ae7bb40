"""Importers read releases built the way their publishers build them (release_fixtures.py) and
must give back every vector, label, split and id; unsafe or damaged files are refused."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
from release_fixtures import (
    SULUN_GENRES,
    TRAILERS12K_GENRES,
    write_sulun_release,
    write_trailers12k_release,
    write_video_features_output,
)

from cinefeat.store import FeatureStore
from cinefeat.store.importers import IMPORTERS, ReleaseFormatError, import_release
from cinefeat.store.safe_pickle import PickleReadError, UnsafePickleError, load_pickle


def _as_rows(value) -> np.ndarray:
    array = np.asarray(value)
    return array.reshape(1, -1) if array.ndim == 1 else array


def _check_sulun(store: FeatureStore, release: dict) -> None:
    for tid, feats in release["features"].items():
        for name, value in feats.items():
            feature = f"sulun2024_{name}"
            if isinstance(value, list):  # empty in the release: no rows, status says why
                assert not store.has(tid, feature)
                assert store.record(tid).feature_status[feature].startswith("missing")
                continue
            rows = store.get(tid, feature)
            np.testing.assert_array_equal(rows.values, _as_rows(value))
            assert rows.values.dtype == np.float32
            np.testing.assert_array_equal(rows.spans[:, 0], np.arange(len(rows)))
    names, labels = store.labels()
    assert names == SULUN_GENRES
    for tid, genres in release["genres"].items():
        assert [names[i] for i in np.flatnonzero(labels[tid])] == genres


@pytest.mark.parametrize(
    ("tensors", "label_key"), [(False, "label"), (True, "labels")], ids=["numpy", "tensors"]
)
def test_sulun2024_round_trips_values_labels_and_splits(tmp_path, tensors, label_key):
    release = write_sulun_release(tmp_path / "data", tensors=tensors, label_key=label_key)
    summary = import_release("movienet-sulun2024", tmp_path / "data", tmp_path / "mn.zarr")
    store = FeatureStore.open(tmp_path / "mn.zarr")
    assert sorted(store.ids()) == sorted(release["ids"])
    _check_sulun(store, release)
    split = store.splits()["sulun2024"]
    expected = release["splits"]
    assert split == {
        "train": sorted(expected["trn"][:3]),
        "val": sorted(expected["val"]),
        "test": sorted(expected["tst"]),
    }
    assert summary.skipped["splits.json id not among the imported trailers"] == ["zzzNotInPkl"]
    corrupted = "trailers_genres_clean.csv: genre '-1ru6xV7SOMDrama' not in idx_to_label (dropped)"
    assert summary.skipped[corrupted] == ["XRmWftEjit0"]
    empty = summary.skipped["sulun2024_ocr_sentiment empty in the release"]
    assert sorted(empty) == ["f0yEkRCpCmw", "hdl-ycmgyRY"]
    assert store.record("0dTsfsr6-X8").duration_s == pytest.approx(102.0)
    provenance = store.provenance("sulun2024_clip")
    assert provenance["record"] == "zenodo:13909366" and provenance["release_feature"] == "clip"
    assert len(provenance["file_sha256"]) == 64
    assert "step indices" in provenance["sampling"]["spans"]


def test_sulun2024_rerun_adds_nothing(tmp_path):
    release = write_sulun_release(tmp_path / "data")
    import_release("movienet-sulun2024", tmp_path / "data", tmp_path / "mn.zarr")
    store = FeatureStore.open(tmp_path / "mn.zarr")
    before = {f: store.load_feature(f)[0].shape for f in store.features()}
    again = import_release("movienet-sulun2024", tmp_path / "data", tmp_path / "mn.zarr")
    store = FeatureStore.open(tmp_path / "mn.zarr")
    assert again.imported == 0 and again.already_in_store == len(release["ids"])
    assert {f: store.load_feature(f)[0].shape for f in store.features()} == before
    _check_sulun(store, release)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_is_written(tmp_path):
    marker = tmp_path / "code-ran"
    data = tmp_path / "data"
    write_sulun_release(data)
    with open(data / "features.pkl", "wb") as f:
        pickle.dump({"samples": {"a": {"features": {"clip": _RunsCode(marker)}}}}, f)
    with pytest.raises(UnsafePickleError, match=r"(posix|os)\.system"):
        import_release("movienet-sulun2024", data, tmp_path / "mn.zarr")
    assert not marker.exists()
    assert not (tmp_path / "mn.zarr").exists()  # refused before writing: no store left behind


class Unknown:
    pass


def test_an_unknown_global_is_refused_by_name(tmp_path):
    path = tmp_path / "features.pkl"
    path.write_bytes(pickle.dumps({"samples": {"a": Unknown()}}))
    with pytest.raises(UnsafePickleError, match="Unknown") as error:
        load_pickle(path)
    assert str(path) in str(error.value)


def test_a_truncated_pickle_names_the_file(tmp_path):
    write_sulun_release(tmp_path / "data")
    path = tmp_path / "data" / "features.pkl"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(PickleReadError, match=r"features\.pkl"):
        import_release("movienet-sulun2024", tmp_path / "data", tmp_path / "mn.zarr")


def test_unknown_format_lists_the_importers(tmp_path):
    with pytest.raises(KeyError, match="movienet-sulun2024"):
        import_release("nope", tmp_path, tmp_path / "s.zarr")
    assert "movienet-sulun2024" in IMPORTERS


def test_a_pickle_without_samples_is_a_clear_error(tmp_path):
    (tmp_path / "features.pkl").write_bytes(pickle.dumps({"stats": {}}))
    with pytest.raises(ReleaseFormatError, match="'samples'"):
        import_release("movienet-sulun2024", tmp_path, tmp_path / "mn.zarr")


def test_trailers12k_round_trips_clips_labels_and_three_splits(tmp_path):
    release = write_trailers12k_release(tmp_path / "t12k")
    assert (tmp_path / "t12k" / "i_shufflenet_fpc24.zarr" / ".zgroup").is_file()  # zarr v2
    summary = import_release("trailers12k", tmp_path / "t12k", tmp_path / "t12k" / "store.zarr")
    store = FeatureStore.open(tmp_path / "t12k" / "store.zarr")
    assert sorted(store.ids()) == release["mids"]
    for rep, arrays in release["values"].items():
        for mid, array in arrays.items():
            rows = store.get(mid, f"trailers12k_{rep}")
            np.testing.assert_array_equal(rows.values, array)
            np.testing.assert_array_equal(rows.spans[:, 1], np.arange(1, len(array) + 1))
    names, labels = store.labels()
    assert names == TRAILERS12K_GENRES
    for mid in release["mids"]:
        np.testing.assert_array_equal(labels[mid], release["genres"][mid])
    splits = store.splits()
    for k in range(3):
        expected = {s: sorted(m for m in release["mids"] if release["assignment"][m][k] == i)
                    for i, s in enumerate(("train", "val", "test"))}  # fmt: skip
        assert {s: splits[f"trailers12k_split{k}"].get(s, []) for s in expected} == expected
    assert summary.imported == 7 and summary.rows["trailers12k_i_shufflenet_fpc24"] == sum(
        5 + i for i in range(7)
    )
    provenance = store.provenance("trailers12k_i_shufflenet_fpc24")
    assert provenance["model"] == "ShuffleNet-2D pretrained on ImageNet-1K"
    assert provenance["archive_md5"] == "4a7ae9a15ae35f38e29404be46543aa1"
    rerun = import_release("trailers12k", tmp_path / "t12k", tmp_path / "t12k" / "store.zarr")
    assert rerun.imported == 0 and rerun.already_in_store == 7


def test_trailers12k_missing_array_names_the_group_and_movie(tmp_path):
    import shutil

    release = write_trailers12k_release(tmp_path / "t12k")
    gone = release["mids"][3]
    shutil.rmtree(tmp_path / "t12k" / "k_shufflenet_fps24_fpc24.zarr" / gone)
    with pytest.raises(ReleaseFormatError, match=rf"k_shufflenet_fps24_fpc24\.zarr.*'{gone}'"):
        import_release("trailers12k", tmp_path / "t12k", tmp_path / "s.zarr")
    summary = import_release("trailers12k", tmp_path / "t12k", tmp_path / "s.zarr",
                             skip_missing=True)  # fmt: skip
    assert summary.skipped["k_shufflenet_fps24_fpc24.zarr has no array"] == [gone]
    store = FeatureStore.open(tmp_path / "s.zarr")
    assert not store.has(gone, "trailers12k_k_shufflenet_fps24_fpc24")
    assert store.has(gone, "trailers12k_i_shufflenet_fpc24") and len(store) == 7


def test_npy_dir_one_folder_per_feature_with_spans(tmp_path):
    rng = np.random.default_rng(2)
    written: dict[str, dict[str, np.ndarray]] = {"visual": {}, "audio": {}}
    for feature, dim in (("visual", 6), ("audio", 3)):
        (tmp_path / "npy" / feature).mkdir(parents=True)
        for i in range(4):
            values = rng.standard_normal(dim if feature == "audio" else (i + 1, dim))
            values = values.astype(np.float16 if feature == "visual" else np.float32)
            np.save(tmp_path / "npy" / feature / f"t{i}.npy", values)
            written[feature][f"t{i}"] = values
    spans = np.array([[0.0, 1.5], [1.5, 3.0]])
    np.save(tmp_path / "npy" / "visual" / "t1.spans.npy", spans)
    summary = import_release("npy-dir", tmp_path / "npy", tmp_path / "s.zarr")
    store = FeatureStore.open(tmp_path / "s.zarr")
    assert store.ids() == ["t0", "t1", "t2", "t3"] and summary.imported == 4
    for feature, by_id in written.items():
        for tid, values in by_id.items():
            rows = store.get(tid, feature)
            np.testing.assert_array_equal(rows.values, values.reshape(len(rows), -1))
            assert rows.values.dtype == values.dtype
    np.testing.assert_array_equal(store.get("t1", "visual").spans, spans)
    np.testing.assert_array_equal(store.get("t2", "visual").spans[:, 0], np.arange(3))
    assert import_release("npy-dir", tmp_path / "npy", tmp_path / "s.zarr").imported == 0


def test_npy_dir_refuses_an_object_array(tmp_path):
    (tmp_path / "npy").mkdir()
    np.save(tmp_path / "npy" / "a.npy", np.zeros((2, 3), np.float32))
    np.save(tmp_path / "npy" / "b.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ReleaseFormatError, match=r"b\.npy"):
        import_release("npy-dir", tmp_path / "npy", tmp_path / "s.zarr", feature="vecs")


def test_cli_import_with_an_option_and_json_summary(tmp_path):
    import json

    from click.testing import CliRunner

    from cinefeat.store.import_cli import import_command

    write_trailers12k_release(tmp_path / "t12k")
    out = tmp_path / "s.zarr"
    args = ["trailers12k", str(tmp_path / "t12k"), "--store", str(out), "--json"]
    result = CliRunner().invoke(import_command, [*args, "-o", "representations=i_shufflenet_fpc24"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # progress bars go to stderr
    assert summary["imported"] == 7 and list(summary["rows"]) == ["trailers12k_i_shufflenet_fpc24"]
    assert FeatureStore.open(out).features() == ["trailers12k_i_shufflenet_fpc24"]
    bad = CliRunner().invoke(import_command, [*args, "-o", "nope=1"])
    assert bad.exit_code != 0 and "representations" in bad.output


def test_video_features_output_with_timestamps_and_pickles(tmp_path):
    written = write_video_features_output(tmp_path / "output")
    summary = import_release("video-features", tmp_path / "output", tmp_path / "s.zarr")
    store = FeatureStore.open(tmp_path / "s.zarr")
    assert store.ids() == ["my_trailer_1", "trailer2", "trailer3"] and summary.imported == 3
    assert store.features() == ["vf_resnet", "vf_vggish"]
    for key in ("resnet", "vggish"):
        for stem, values in written[key].items():
            np.testing.assert_array_equal(store.get(stem, f"vf_{key}").values, values)
    for stem, stamps in written["timestamps_ms"].items():
        spans = store.get(stem, "vf_resnet").spans
        np.testing.assert_allclose(spans[:, 0], stamps / 1000.0)
        np.testing.assert_allclose(spans[:, 1], stamps / 1000.0 + 0.04)
    np.testing.assert_array_equal(store.get("trailer2", "vf_vggish").spans[:, 0], np.arange(5))
    assert import_release("video-features", tmp_path / "output", tmp_path / "s.zarr").imported == 0


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_restricted_unpickler_rebuilds_arrays_tensors_and_scalars(protocol):
    import torch

    value = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "h": np.ones((2, 2), np.float16)[:, :1],  # not contiguous
        "e": np.zeros((0, 768), np.float32),
        "s": np.float32(1.5),
        "t": torch.arange(4.0).reshape(2, 2),
        "b": torch.zeros((0, 512)),
        "list": [1, "x", (2.0, None)],
    }
    loaded = load_pickle(io.BytesIO(pickle.dumps(value, protocol=protocol)))
    for key in ("a", "h", "e"):
        np.testing.assert_array_equal(loaded[key], value[key])
        assert loaded[key].dtype == value[key].dtype
    assert loaded["s"] == value["s"] and loaded["s"].dtype == np.float32
    assert torch.equal(loaded["t"], value["t"]) and loaded["b"].shape == (0, 512)
    assert loaded["list"] == value["list"]


def test_numpy1_spelling_is_read_and_object_arrays_are_refused(tmp_path):
    data = pickle.dumps({"a": np.arange(3.0)}, protocol=2)
    assert b"numpy._core.multiarray\n_reconstruct" in data
    old = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # numpy 1 files
    np.testing.assert_array_equal(load_pickle(io.BytesIO(old))["a"], np.arange(3.0))
    path = tmp_path / "objects.pkl"
    path.write_bytes(pickle.dumps(np.array([{"x": 1}], dtype=object)))
    with pytest.raises(UnsafePickleError, match="object"):
        load_pickle(path)
