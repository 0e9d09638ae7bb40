"""The `ocr` extractor: empty frames, request, config, backend adapters (the real title cards of
trailer_bbb.mp4 are read through the pipeline in test_pipeline.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cinefeat.extract.base import FrameRequest, TrailerRequest
from cinefeat.extract.extractors.ocr import OcrConfig, OcrExtractor
from cinefeat.extract.text.ocr_backends import paddle_lines


def test_frames_without_text_give_zero_rows(ocr_extractor) -> None:
    gradient = np.tile(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], (360, 1, 3))
    frames = [(np.zeros((360, 640, 3), np.uint8), (0.0, 1.0)), (gradient, (1.0, 2.0))]
    rows = ocr_extractor.extract_trailer(frames, None, 2.0)
    assert rows.values.shape == (0, 384) and rows.texts == []
    assert len(ocr_extractor.extract_trailer(None, None, 0.0)) == 0


def test_request_asks_the_pipeline_for_a_frame_every_interval() -> None:
    request = OcrExtractor(interval_s=2.0).request()
    assert request == TrailerRequest(
        frames=FrameRequest("every-seconds", (("interval_s", 2.0),), 360), audio_rate=None
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"min_confidence": 1.5}, "min_confidence must be in"),
        ({"backend": "tesseract"}, "choose from: paddleocr, rapidocr"),
        ({"interval_s": 0}, "interval_s must be > 0"),
    ],
)
def test_bad_config_names_the_fix(option: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OcrConfig(**option)


def test_paddle_results_keep_confident_lines_in_reading_order() -> None:
    result = {  # the shape of a PaddleOCR 3.x OCRResult
        "rec_texts": ["Peach Project presents", "The Blender Foundation", "blur"],
        "rec_scores": [0.99, 0.98, 0.41],
        "rec_polys": [
            np.array([[100, 200], [500, 200], [500, 240], [100, 240]]),
            np.array([[120, 100], [480, 100], [480, 140], [120, 140]]),
            np.array([[0, 0], [10, 0], [10, 10], [0, 10]]),
        ],
    }
    lines = paddle_lines(result, (4.0, 5.0), min_confidence=0.75)
    assert [line.text for line in lines] == ["The Blender Foundation", "Peach Project presents"]
    assert lines[0].start_s == 4.0 and lines[0].end_s == 5.0
