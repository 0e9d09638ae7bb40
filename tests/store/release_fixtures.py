"""Small releases written the way their publishers' code writes them (used by test_importers).

Each builder follows the authors' public code, cited at the function; values are random but
seeded, and each builder returns what it wrote so the tests compare the store against it.
"""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

# serkansulun/movie-genre-classification, preprocessing/src/extract_features.py: `all_genres`
SULUN_GENRES = sorted([
    "Action", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary", "Drama",
    "Family", "Fantasy", "History", "Horror", "Music", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Sport", "Thriller", "War", "Western",
])  # fmt: skip
SULUN_DIMS = {
    "asr_sentiment": 768,
    "beats": 768,
    "clip": 512,
    "face_emotion": 768,
    "ocr_sentiment": 768,
}  # fmt: skip  (classification/src/config.py: feature_dims)


def _ind2multihot(inds: list[int], num_labels: int) -> torch.Tensor:
    # classification/src/utils_classify.py: ind2multihot
    multihot = torch.zeros(num_labels)
    return multihot.index_fill(0, torch.Tensor(inds).to(torch.int64), 1)


def _detach_tensor(x: Any) -> Any:
    # utils.py: detach_tensor (tensors become numpy arrays before pickling)
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return x


def write_sulun_release(
    folder: Path, tensors: bool = False, label_key: str = "label"
) -> dict[str, Any]:
    """features.pkl + splits.json + trailers_genres_clean.csv as extract_features.py writes them.

    `tensors=True` keeps torch tensors (what the README describes) instead of `detach_tensor`'s
    numpy arrays; `label_key="labels"` is the README's spelling. Empty features are `[]`, as
    ASRSentiment / FaceExtractAndClassify return when nothing is found.
    """
    rng = np.random.default_rng(0)
    ids = ["--85qsvHPaI", "-0RhCAJA66A", "0dTsfsr6-X8", "XRmWftEjit0", "hdl-ycmgyRY", "f0yEkRCpCmw"]
    genres = {
        "--85qsvHPaI": ["Drama", "History"],
        "-0RhCAJA66A": ["Comedy"],
        "0dTsfsr6-X8": ["Drama", "Romance", "War"],
        "XRmWftEjit0": ["Action", "Crime", "Thriller"],  # csv has the corrupted value here
        "hdl-ycmgyRY": ["Horror", "Mystery"],
        "f0yEkRCpCmw": [],  # one of the empty genre lists
    }
    convert = (lambda t: t) if tensors else _detach_tensor
    x: dict[str, Any] = {"samples": {}}
    for i, tid in enumerate(ids):
        scenes = 3 + i
        feats: dict[str, Any] = {
            "clip": torch.from_numpy(rng.standard_normal((scenes, 512)).astype(np.float32)),
            "beats": torch.from_numpy(rng.standard_normal((scenes + 2, 768)).astype(np.float32)),
            "face_emotion": torch.from_numpy(rng.standard_normal((i, 768)).astype(np.float32))
            if i % 2
            else [],
            # SentimentClassifier: features = hidden_states[-1][:, 0, :] -> (1, 768); 1-D too
            "asr_sentiment": torch.from_numpy(rng.standard_normal((1, 768)).astype(np.float32))
            if i != 2
            else [],
            "ocr_sentiment": torch.from_numpy(rng.standard_normal(768).astype(np.float32))
            if i < 4
            else [],
        }
        x["samples"][tid] = {"features": {k: convert(v) for k, v in feats.items()}}
    stat = {"mean": np.float32(0.0), "std": np.float32(1.0), "min": np.float32(-4), "max": 4.0}
    x["stats"] = {name: dict(stat) for name in SULUN_DIMS}
    x["idx_to_label"] = dict(enumerate(SULUN_GENRES))
    genre_to_ind = {g: i for i, g in enumerate(SULUN_GENRES)}
    for tid in ids:
        multihot = _ind2multihot([genre_to_ind[g] for g in genres[tid]], len(SULUN_GENRES))
        x["samples"][tid][label_key] = convert(multihot)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "features.pkl", "wb") as f:  # utils.pickle_save
        pickle.dump(x, f)
    # README: sorted ids sliced 70/10/20; one listed id has no features (not in the pickle)
    splits = {"trn": [*ids[:3], "zzzNotInPkl"], "val": ids[3:4], "tst": ids[4:]}
    (folder / "splits.json").write_text(json.dumps(splits, indent=2))
    with open(folder / "trailers_genres_clean.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["imdb_id", "youtube_id", "genres", "title", "duration"])
        for i, tid in enumerate(ids):
            listed = genres[tid]
            if tid == "XRmWftEjit0":  # the corrupted value of the published file
                listed = ["Action", "Crime", "-1ru6xV7SOMDrama", "Thriller"]
            writer.writerow([f"tt00{i}", tid, str(listed), f"Film {i}", 100.0 + i])
    pickled = {tid: {k: _detach_tensor(v) for k, v in s["features"].items()}
               for tid, s in x["samples"].items()}  # fmt: skip
    return {"ids": ids, "genres": genres, "features": pickled, "splits": splits}


# richardtml/DIViTA, utils.py: GENRES_FULL_NAMES (the csv's genre columns, in this order)
TRAILERS12K_GENRES = ["action", "adventure", "comedy", "crime", "drama",
                      "fantasy", "horror", "romance", "sci-fi", "thriller"]  # fmt: skip


def write_trailers12k_release(
    folder: Path, reps: dict[str, int] | None = None, count: int = 7
) -> dict[str, Any]:
    """trailers12k_mgtc.csv + one zarr v2 group per representation, as DIViTA's data.py reads
    them: `pd.read_csv` (mid, genre 0/1 columns, split0..2 with 0/1/2 = trn/val/tst) and
    `zarr.open(join(data_dir, x))` with `attrs['num_features']` and `z[mid]` of shape
    (clips, num_features). `count` movies (the default 7 is what test_importers compares)."""
    reps = reps or {"i_shufflenet_fpc24": 16, "k_shufflenet_fps24_fpc24": 8}
    rng = np.random.default_rng(1)
    mids = [f"m{i:05d}" for i in range(count)]
    folder.mkdir(parents=True, exist_ok=True)
    genres = {mid: rng.integers(0, 2, len(TRAILERS12K_GENRES)) for mid in mids}
    assignment = {mid: [int(rng.integers(0, 3)) for _ in range(3)] for mid in mids}
    with open(folder / "trailers12k_mgtc.csv", "w", newline="") as f:
        writer = csv.writer(f)  # pandas' to_csv(index=False) writes the same text
        writer.writerow(["mid", *TRAILERS12K_GENRES, "split0", "split1", "split2"])
        for mid in mids:
            writer.writerow([mid, *genres[mid].tolist(), *assignment[mid]])
    values: dict[str, dict[str, np.ndarray]] = {}
    for rep, dim in reps.items():
        import zarr

        group = zarr.open_group(str(folder / f"{rep}.zarr"), mode="w", zarr_format=2)
        group.attrs["num_features"] = dim
        values[rep] = {}
        for i, mid in enumerate(mids):
            array = rng.standard_normal((5 + i, dim)).astype(np.float32)
            group.create_array(mid, data=array, chunks=(4, dim))
            values[rep][mid] = array
    return {"mids": mids, "genres": genres, "assignment": assignment, "values": values}


def write_video_features_output(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """An output folder of v-iashin/video_features: `action_on_extraction` saves every key of the
    extractor's dict as `make_path(output_path, video_path, key, ext)` = `<stem>_<key><ext>`,
    with `np.save` (save_numpy) or `pickle.dump` (save_pickle); frame-wise extractors (resnet,
    clip) add `fps` and `timestamps_ms`, vggish writes only its key. Output paths are
    `<output>/<feature_type>/`."""
    rng = np.random.default_rng(3)
    written: dict[str, dict[str, np.ndarray]] = {"resnet": {}, "vggish": {}, "timestamps_ms": {}}
    for i, stem in enumerate(["my_trailer_1", "trailer2", "trailer3"]):
        n = 3 + i
        feats = {
            "resnet": rng.standard_normal((n, 12)).astype(np.float32),
            "fps": np.array(25.0),
            "timestamps_ms": np.arange(n) * 40.0,
        }
        out = folder / "resnet"
        out.mkdir(parents=True, exist_ok=True)
        for key, value in feats.items():
            if i == 2:  # save_pickle
                with open(out / f"{stem}_{key}.pkl", "wb") as f:
                    pickle.dump(value, f)
            else:
                np.save(out / f"{stem}_{key}.npy", value)
        written["resnet"][stem] = feats["resnet"]
        written["timestamps_ms"][stem] = feats["timestamps_ms"]
        (folder / "vggish").mkdir(exist_ok=True)
        vggish = rng.standard_normal((n + 1, 128)).astype(np.float32)
        np.save(folder / "vggish" / f"{stem}_vggish.npy", vggish)
        written["vggish"][stem] = vggish
    return written
