"""A trained head folder, and the extractors that remake exactly its inputs.

Why here: this is where the two sides meet. A head folder (from `cinefeat train` or
`cinefeat zeroshot-train`) records the store provenance of every feature it was trained on; the
extract registry can rebuild an extractor from that provenance. Predicting with features made
another way (another model, other weights, another sampler) gives confident nonsense, so the
rebuilt extractors are loaded and their provenance compared with the recorded one
(`cinefeat.fuse.provenance`) before any video is touched; a difference is an error that names
each differing field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cinefeat.extract.base import Extractor
from cinefeat.store.errors import CinefeatError


class PredictError(CinefeatError):
    """A head or video that cannot be predicted on; the message says why and what to do."""


@dataclass
class TrainedHead:
    """A loaded head, its folder and the store provenance of each feature it was trained on.

    Whether it scores any label names or only its own is the head's to say (`open_labels`)."""

    model: Any  # cinefeat.fuse.heads.Head (fuse's type; cli code sees it through this record)
    folder: Path
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)  # feature -> store prov.

    @property
    def feature_names(self) -> list[str]:
        return list(self.provenance)


def load_trained_head(folder: str | Path, device: str = "cpu") -> TrainedHead:
    """Any head folder (`cinefeat train`, `similarity-tune`, `zeroshot-train`, release 0.1)."""
    from cinefeat.fuse.checkpoint import CheckpointError, load_head
    from cinefeat.fuse.provenance import trained_provenance

    folder = Path(folder)
    try:
        head = load_head(folder, device=device)
    except CheckpointError as error:
        raise PredictError(str(error)) from error
    return TrainedHead(head, folder, trained_provenance(head))


@dataclass
class ExtractionRecipe:
    """Extractors keyed by store feature name, and the run settings they were trained with."""

    extractors: dict[str, Extractor]
    scene_detector: str
    dtype: str


def recipe_for(head: TrainedHead) -> ExtractionRecipe:
    """Rebuild the head's extractors from its provenance (not loaded yet)."""
    from cinefeat.extract.extractors import BROKEN, EXTRACTORS

    extractors: dict[str, Extractor] = {}
    detectors, dtypes = set(), set()
    for feature, trained in head.provenance.items():
        name = trained.get("extractor")
        if not name:
            raise PredictError(
                f"head {head.folder} records no extractor for feature {feature!r} (was it "
                "trained on a store made outside cinefeat?): extract the features yourself and use "
                "cinefeat.fuse.predict.predict_arrays"
            )
        if name not in EXTRACTORS.entries:
            why = f" ({BROKEN[name]})" if name in BROKEN else ""
            raise PredictError(
                f"feature {feature!r} was made by extractor {name!r}, which this installation "
                f"does not have{why}: pip install 'cinefeat[extract]'"
            )
        try:
            extractors[feature] = EXTRACTORS.create(name, **dict(trained.get("config") or {}))
        except (TypeError, ValueError) as error:
            raise PredictError(
                f"feature {feature!r}: cannot rebuild extractor {name!r} with the recorded "
                f"config {trained.get('config')}: {error} (a head from another cinefeat version?)"
            ) from error
        detector = (trained.get("sampling") or {}).get("scene_detector")
        if detector:
            detectors.add(detector)
        dtypes.add(trained.get("dtype", "float16"))
    if len(detectors) > 1:
        raise PredictError(
            f"the head's features were sampled on scenes of different detectors {sorted(detectors)}"
            ": predict runs one scene detector per video"
        )
    dtype = dtypes.pop() if len(dtypes) == 1 else "float32"
    return ExtractionRecipe(extractors, detectors.pop() if detectors else "content", dtype)


def check_recipe(head: TrainedHead, recipe: ExtractionRecipe) -> None:
    """After `load()` (weights checksums are known then): refuse if any rebuilt extractor makes
    features differently from the head's training features."""
    from cinefeat.fuse.provenance import ProvenanceMismatchError, provenance_mismatches

    made = {
        feature: e.provenance(scene_detector=recipe.scene_detector)
        for feature, e in recipe.extractors.items()
    }
    problems = provenance_mismatches(head.provenance, made)
    if problems:
        raise PredictError(
            f"head {head.folder} was trained on features made differently from what this "
            "installation makes:\n  " + "\n  ".join(problems) + "\nFetch the weights it was "
            "trained with (`cinefeat models list` shows checksums) or retrain the head on a store "
            "made with the current extractors"
        ) from ProvenanceMismatchError(problems)
