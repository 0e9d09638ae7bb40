"""Speed and quality of the text features on real media, side by side in one run.

OCR: seconds per trailer on trailer_bbb.mp4 (55 s) for each backend and frame sampling, with the
number of its 6 title cards found (after spelling correction). ASR: seconds per trailer on
trailer_bbb.mp4 (music, no speech) and on two_cities.wav (44 s of speech), with the word error
rate on the latter. Times include recognition, spelling, language id and MiniLM token encoding,
not model loading, warm-up or decoding (the pipeline decodes once for all features).

    CINEFEAT_SHARED=/work/shared python benchmarks/text_bench.py [--write docs/bench-text.md]

Backends that cannot load here (no weights offline) are listed with the reason.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.extract.text.wer import word_error_rate

CARDS = (
    "blender foundation",
    "unlucky bird",
    "overweight",
    "rodent pests",
    "revenge is coming",
    "made with",
)
TWO_CITIES = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
    "age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the "
    "season of Light, it was the season of Darkness, it was the spring of hope, it was the winter "
    "of despair, we had everything before us, we had nothing before us, we were all going direct "
    "to Heaven, we were all going direct the other way - in short, the period was so far like the "
    "present period, that some of its noisiest authorities insisted on its being received, for "
    "good or for evil, in the superlative degree of comparison only."
)


def frames_at(
    path: Path, times: list[float], span_s: float, short_side: int
) -> list[tuple[np.ndarray, tuple[float, float]]]:
    """Decode the first frame at or after each time (what a frame sampler hands the extractor)."""
    import av

    out, pending = [], sorted(times)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        scale = short_side / min(stream.codec_context.width, stream.codec_context.height)
        size = {
            "width": round(stream.codec_context.width * scale / 2) * 2,
            "height": round(stream.codec_context.height * scale / 2) * 2,
        }
        for frame in container.decode(stream):
            while pending and float(frame.pts * stream.time_base) + 1e-6 >= pending[0]:
                start = pending.pop(0)
                out.append((frame.to_ndarray(format="rgb24", **size), (start, start + span_s)))
            if not pending:
                break
    return out


def scene_middle_times(path: Path) -> list[float]:
    from scenedetect import ContentDetector, detect

    scenes = detect(str(path), ContentDetector())
    return [(a.seconds + b.seconds) / 2 for a, b in scenes] or [0.0]


def cards_found(texts: list[dict[str, Any]]) -> int:
    joined = " | ".join(t["text"].lower() for t in texts)
    return sum(card in joined for card in CARDS)


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def ocr_rows(shared: Path) -> list[list[str]]:
    from cinefeat.extract.extractors.ocr import OcrExtractor

    trailer = shared / "media" / "trailer_bbb.mp4"
    samplings = {
        "scene-middle (ContentDetector)": (scene_middle_times(trailer), None),
        "every 1 s": ([float(t) for t in range(55)], 1.0),
        "every 2 s (default)": ([float(t) for t in range(0, 55, 2)], 2.0),
        "every 3 s": ([float(t) for t in range(0, 55, 3)], 3.0),
    }
    rows = []
    for backend in ("rapidocr", "paddleocr"):
        extractor = OcrExtractor(backend=backend)
        try:
            extractor.load("cpu")
        except Exception as error:
            rows.append([backend, "-", "-", "-", f"not run: {type(error).__name__}"])
            continue
        warm_up = frames_at(trailer, [12.0, 18.0], 1.0, extractor.config.short_side)
        extractor.extract_trailer(warm_up, None, 55.0)  # first calls load lazy models (lingua)
        for name, (times, span) in samplings.items():
            frames = frames_at(trailer, times, span or 1.0, extractor.config.short_side)
            result, seconds = timed(lambda f=frames, e=extractor: e.extract_trailer(f, None, 55.0))
            rows.append(
                [
                    backend,
                    name,
                    str(len(frames)),
                    f"{seconds:.1f}",
                    f"{cards_found(result.texts)}/6",
                ]
            )
    return rows


def asr_rows(shared: Path) -> list[list[str]]:
    from faster_whisper.audio import decode_audio

    from cinefeat.extract.extractors.asr import AsrExtractor
    from cinefeat.extract.text.rows import lines_from_texts

    music = decode_audio(str(shared / "media" / "trailer_bbb.mp4"), sampling_rate=16_000)
    speech = decode_audio(str(shared / "media" / "two_cities.wav"), sampling_rate=16_000)
    rows = []
    for backend, model, vad in (
        ("faster-whisper", "tiny.en", True),
        ("faster-whisper", "tiny.en", False),
        ("openai-whisper", "tiny.en", True),
    ):
        extractor = AsrExtractor(backend=backend, model=model, vad=vad)
        label = f"{backend} {model}" + ("" if vad else " (no VAD)")
        try:
            extractor.load("cpu")
        except Exception as error:
            rows.append([label, "-", "-", "-", f"not run: {type(error).__name__}"])
            continue
        extractor.extract_trailer(None, speech[: 16_000 * 8], 8.0)  # warm-up (lazy loads)
        music_rows, music_s = timed(lambda e=extractor: e.extract_trailer(None, music, 55.0))
        speech_rows, speech_s = timed(lambda e=extractor: e.extract_trailer(None, speech, 44.4))
        hypothesis = " ".join(line.text for line in lines_from_texts(speech_rows.texts))
        rows.append(
            [
                label,
                f"{music_s:.1f} ({len(music_rows.texts)} segments)",
                f"{speech_s:.1f}",
                f"{100 * word_error_rate(TWO_CITIES, hypothesis):.1f}%",
                "",
            ]
        )
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args()
    shared = Path(os.environ.get("CINEFEAT_SHARED", ""))
    if not (shared / "media" / "trailer_bbb.mp4").exists():
        raise SystemExit("set CINEFEAT_SHARED to the shared/ folder with media/trailer_bbb.mp4")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, CPU only"
    ocr = table(
        ["OCR backend", "sampling", "frames", "s / trailer", "cards found"], ocr_rows(shared)
    )
    asr = table(
        [
            "ASR backend",
            "s on trailer_bbb (music)",
            "s on two_cities (44 s)",
            "WER two_cities",
            "note",
        ],
        asr_rows(shared),
    )
    text = f"Machine: {machine}.\n\n{ocr}\n\n{asr}\n"
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
