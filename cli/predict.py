"""`predict_videos`: videos in, labels out, with nothing written to disk.

The head decides what is extracted: `cli.heads.recipe_for` rebuilds its extractors from the
recorded provenance, `check_recipe` refuses a mismatch, the extract runner fills a `MemoryStore`,
and the head (supervised: probabilities by sigmoid; zero-shot: scores of any label names) ranks
the labels. One bad video is reported as failed and the others go on, as in batch extraction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.cli.heads import ExtractionRecipe, PredictError, TrainedHead, check_recipe, recipe_for
from cinefeat.store.memory import MemoryStore


@dataclass
class VideoPrediction:
    """The outcome for one video; `labels` is sorted by decreasing probability (or score)."""

    video: str
    status: str = "ok"  # ok | failed
    error: str | None = None
    duration_s: float | None = None
    labels: list[tuple[str, float]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # feature -> vectors extracted
    notices: list[str] = field(default_factory=list)  # e.g. "asr: missing: no audio stream"

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "status": self.status,
            "error": self.error,
            "duration_s": self.duration_s,
            "labels": [{"label": n, "score": round(s, 6)} for n, s in self.labels],
            "rows": self.rows,
            "notices": self.notices,
        }


@dataclass
class Prediction:
    kind: str  # "probability" (supervised head) or "score" (zero-shot head)
    videos: list[VideoPrediction]
    threshold: float | None  # the zero-shot head's M; 0.5 for probabilities
    extract_s: float
    store: MemoryStore


def load_recipe(
    head: TrainedHead, device: str = "cpu", fp16: bool | None = None
) -> ExtractionRecipe:
    """Rebuild, load and check the head's extractors (raises PredictError on any mismatch)."""
    from cinefeat.extract.pretrained import WeightsError

    recipe = recipe_for(head)
    from cinefeat.extract.base import half_precision

    half = half_precision(device, fp16)
    for feature, extractor in recipe.extractors.items():
        try:
            extractor.load(device=device, fp16=half)
        except WeightsError as error:
            raise PredictError(
                f"feature {feature!r} needs weights that are not here: {error}"
            ) from error
    check_recipe(head, recipe)
    return recipe


def extract_videos(
    videos: Sequence[str | Path],
    recipe: ExtractionRecipe,
    device: str = "cpu",
    batch_size: int = 32,
    on_video: Callable[[], None] | None = None,
) -> MemoryStore:
    """Run the loaded extractors over `videos` into a new `MemoryStore` (ids: the paths)."""
    from cinefeat.extract.runner import LocalRunner, RunOptions
    from cinefeat.extract.scan import Trailer

    store = MemoryStore()
    options = RunOptions(
        device=device,
        batch_size=batch_size,
        scene_detector=recipe.scene_detector,
        dtype=recipe.dtype,
        run_id="predict",
    )
    runner = LocalRunner(store, recipe.extractors, options, on_trailer=on_video)
    runner.loaded = True  # load_recipe loaded (and checked) every extractor
    runner.run([Trailer(id=str(v), path=Path(v)) for v in dict.fromkeys(map(str, videos))])
    return store


def predict_videos(
    videos: Sequence[str | Path],
    head: TrainedHead,
    recipe: ExtractionRecipe,
    device: str = "cpu",
    batch_size: int = 32,
    label_names: Sequence[str] | None = None,
    on_video: Callable[[], None] | None = None,
) -> Prediction:
    started = time.perf_counter()
    store = extract_videos(videos, recipe, device, batch_size, on_video)
    extract_s = time.perf_counter() - started
    results = [_collect(store, str(v), recipe) for v in dict.fromkeys(map(str, videos))]
    ok = [r for r in results if r.status == "ok"]
    if head.model.open_labels:
        names = list(label_names) if label_names else list(head.model.label_names)
        encoder = zero_shot_label_encoder(head, device)
        from cinefeat.fuse.zeroshot.rank import rank_label_names

        for result in ok:
            rows = {
                f: store.get(result.video, f).values
                if store.has(result.video, f)
                else _empty(recipe, f)
                for f in head.feature_names
            }
            result.labels = rank_label_names(head.model, rows, names, encoder)
        return Prediction("score", results, head.model.decision_threshold, extract_s, store)
    if label_names:
        raise PredictError(
            f"--labels needs a zero-shot head; {head.folder} predicts its fixed labels "
            f"{head.model.label_names}"
        )
    if ok:
        from cinefeat.fuse.predict import predict_arrays

        arrays = {
            f: [
                store.get(r.video, f).values if store.has(r.video, f) else _empty(recipe, f)
                for r in ok
            ]
            for f in head.feature_names
        }
        probabilities = predict_arrays(head.model, arrays, batch_size=batch_size)
        for result, row in zip(ok, probabilities, strict=True):
            order = np.argsort(-row)
            result.labels = [(head.model.label_names[c], float(row[c])) for c in order]
    return Prediction("probability", results, head.model.decision_threshold, extract_s, store)


def zero_shot_label_encoder(head: TrainedHead, device: str) -> Callable[[list[str]], np.ndarray]:
    """The text encoder the head's training labels were embedded with, as a LabelEncoder."""
    from cinefeat.extract.text.encoders import TEXT_ENCODERS, shared_encoder
    from cinefeat.fuse.zeroshot.labels import token_mean_encoder

    name = head.model.label_provenance.get("encoder")
    if name not in TEXT_ENCODERS.names():
        raise PredictError(
            f"head {head.folder} embedded its labels with {name!r}, which is not a text encoder "
            f"of this installation ({', '.join(TEXT_ENCODERS.names())}): embed the training "
            "labels with `cinefeat embed-labels` and retrain"
        )
    return token_mean_encoder(shared_encoder(name, device=device))


def _collect(store: MemoryStore, video: str, recipe: ExtractionRecipe) -> VideoPrediction:
    result = VideoPrediction(video)
    try:
        record = store.record(video)
    except KeyError:
        return VideoPrediction(video, "failed", "the run did not reach this video")
    result.duration_s = record.duration_s
    if record.status != "ok":
        result.status = "failed"
        result.error = f"{record.stage}: {record.error}"
        return result
    for feature in recipe.extractors:
        if store.has(video, feature):
            result.rows[feature] = len(store.get(video, feature))
        else:
            result.rows[feature] = 0
            status = record.feature_status.get(feature, "missing")
            result.notices.append(f"{feature}: {status} (predicted without it)")
    return result


def _empty(recipe: ExtractionRecipe, feature: str) -> np.ndarray:
    return np.zeros((0, recipe.extractors[feature].dim), dtype=np.float32)
