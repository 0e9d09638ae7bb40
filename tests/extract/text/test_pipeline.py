"""OCR and ASR run by the pipeline into a real store: the frames the `every-seconds` sampler really
decodes, the soundtrack the decoder really resamples, and what a trailer without text or speech
(or without any audio stream) leaves in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinefeat.extract.runner import LocalRunner, RunOptions
from cinefeat.extract.scan import Trailer
from cinefeat.extract.text.rows import lines_from_texts
from cinefeat.store import FeatureStore

TITLE_CARDS = {  # card -> seconds on screen (checked by eye, shared/README.md)
    "blender foundation": (4.0, 9.0),
    "unlucky bird": (11.0, 14.0),
    "overweight": (17.0, 23.0),
    "rodent pests": (33.0, 36.0),
    "revenge is coming": (48.0, 51.0),
    "made with": (53.0, 55.0),
}


def run(store: FeatureStore, extractors: dict, trailers: list[Trailer]):
    runner = LocalRunner(store, extractors, RunOptions(run_id="t", worker_id="w"))
    runner.loaded = True  # the session's extractors are loaded once for all tests
    return runner.run(trailers)


@pytest.fixture(scope="module")
def bbb_store(media, ocr_extractor, asr_extractor, tmp_path_factory) -> FeatureStore:
    store = FeatureStore.create(tmp_path_factory.mktemp("text") / "store")
    summary = run(
        store,
        {"ocr": ocr_extractor, "asr": asr_extractor},
        [Trailer("bbb", media("trailer_bbb.mp4"))],
    )
    assert (summary.ok, summary.failed) == (1, 0), summary.failures
    return FeatureStore.open(store.path)


@pytest.mark.slow
def test_default_ocr_sampling_finds_the_title_cards_through_the_pipeline(bbb_store) -> None:
    rows = bbb_store.get("bbb", "ocr")
    lines = lines_from_texts(rows.texts)
    found = {}
    for line in lines:
        for card in TITLE_CARDS:
            if card in line.text.lower():
                found[card] = (line.start_s, line.end_s)
    assert len(found) >= 5, f"found only {sorted(found)} in {[line.text for line in lines]}"
    for card, (start, end) in found.items():  # read while the card was on screen
        shown = TITLE_CARDS[card]
        assert start < shown[1] + 1.0 and end > shown[0] - 1.0, f"{card} read at {start}-{end}"
    assert rows.values.shape == (len(rows.texts), 384)
    provenance = bbb_store.provenance("ocr")
    assert provenance["sampling"]["frames"]["sampler"] == "every-seconds"


@pytest.mark.slow
def test_repeated_reads_are_merged_and_rows_follow_the_texts(bbb_store) -> None:
    rows = bbb_store.get("bbb", "ocr")
    lines = lines_from_texts(rows.texts)
    assert sum("overweight" in line.text.lower() for line in lines) == 1  # in 3 sampled frames
    for span, text in zip(rows.spans, rows.texts, strict=True):
        assert span.tolist() == [text["start_s"], text["end_s"]]
        assert text["confidence"] >= 0.75


@pytest.mark.slow
def test_music_without_speech_is_zero_asr_rows_with_status_ok(bbb_store) -> None:
    """trailer_bbb has music and no speech; voice activity filtering keeps Whisper from inventing
    words over it (without it tiny.en "hears" "You")."""
    record = bbb_store.record("bbb")
    assert record.status == "ok"
    assert record.feature_status == {"ocr": "ok", "asr": "ok"}
    asr = bbb_store.get("bbb", "asr")  # committed, so a rerun skips it
    assert asr.values.shape == (0, 384) and bbb_store.texts("bbb", "asr") == []


def test_no_text_no_speech_and_no_audio_stream(
    tmp_path: Path, cuts_video_maker, ocr_extractor, asr_extractor
) -> None:
    """Plain colours with a 440 Hz tone: zero OCR and zero ASR rows, status ok. Without an audio
    stream: zero OCR rows, ASR recorded missing (not failed)."""
    root = tmp_path / "d"
    root.mkdir()
    tone = cuts_video_maker(root / "tone.mp4", ["red", "blue"], seconds=2.0)
    mute = cuts_video_maker(root / "mute.mp4", ["white", "black"], seconds=2.0, audio=False)
    store = FeatureStore.create(tmp_path / "s")
    extractors = {"ocr": ocr_extractor, "asr": asr_extractor}
    summary = run(store, extractors, [Trailer("tone", tone), Trailer("mute", mute)])
    assert (summary.ok, summary.failed) == (2, 0), summary.failures
    store = FeatureStore.open(store.path)
    assert store.record("tone").feature_status == {"ocr": "ok", "asr": "ok"}
    for name in ("ocr", "asr"):
        assert store.get("tone", name).values.shape == (0, 384)
    mute_record = store.record("mute")
    assert mute_record.status == "ok"
    assert mute_record.feature_status == {"ocr": "ok", "asr": "missing: no audio stream"}
    assert len(store.get("mute", "ocr")) == 0 and not store.has("mute", "asr")
    again = run(store, extractors, [Trailer("tone", tone), Trailer("mute", mute)])
    assert (again.ok, again.skipped) == (0, 2)  # zero rows and `missing` both count as done
