"""OCR backends: one RGB frame -> text lines with boxes and confidences, in reading order.

Two implementations of the same PP-OCR family of models (registry `OCR_BACKENDS`):
- `rapidocr`: the PP-OCR detection/recognition models as ONNX inside the `rapidocr` wheel, run by
  onnxruntime: works offline, and is the default (see docs/bench-text.md for speed and accuracy).
- `paddleocr`: PaddleOCR itself (`[extract-paddle]` extra), the design's choice; PaddleOCR
  downloads its models at first use into its own cache (`~/.paddlex`), or reads them from
  `detection_model_dir` / `recognition_model_dir` on offline machines.

Both drop lines below `min_confidence` and give the lines of a frame in reading order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from cinefeat.extract.text.lines import TextLine, reading_order
from cinefeat.extract.text.registry import BackendRegistry, BackendUnavailable, require


class OcrBackend(Protocol):
    def read(self, frame: np.ndarray, span: tuple[float, float]) -> list[TextLine]:
        """HxWx3 uint8 RGB frame shown during `span` -> its confident lines, in reading order."""
        ...


OCR_BACKENDS: BackendRegistry[OcrBackend] = BackendRegistry("ocr")


def lines_from_detections(
    boxes: Sequence[Any] | None,
    texts: Sequence[str] | None,
    scores: Sequence[float] | None,
    span: tuple[float, float],
    min_confidence: float,
) -> list[TextLine]:
    """Backend-neutral conversion: keep non-empty texts with score >= `min_confidence`."""
    if boxes is None or texts is None or scores is None:
        return []
    lines = []
    for box, text, score in zip(boxes, texts, scores, strict=True):
        text = str(text).strip()
        if not text or float(score) < min_confidence:
            continue
        points = tuple((float(x), float(y)) for x, y in np.asarray(box).reshape(-1, 2))
        lines.append(TextLine(text, float(span[0]), float(span[1]), float(score), points, text))
    return reading_order(lines)


def _check_frame(frame: np.ndarray) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(
            f"OCR expects HxWx3 uint8 RGB frames, got shape {frame.shape} dtype {frame.dtype}"
        )


@OCR_BACKENDS.register("rapidocr")
class RapidOcrBackend:
    """RapidOCR (PP-OCR ONNX models from its wheel).

    `max_side`: the detector resizes the frame so its longer side is at most this many pixels.
    RapidOCR's own default instead *enlarges* the shorter side to 736 px, which costs about 3x
    more time on 360p frames and found no extra title-card text here. The text-direction
    classifier is off: film text is upright.
    """

    def __init__(
        self,
        min_confidence: float = 0.75,
        max_side: int = 640,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        rapidocr = require("rapidocr", "extract")
        params: dict[str, Any] = {
            "Global.use_cls": False,
            "Global.log_level": "critical",
            "Det.limit_type": "max",
            "Det.limit_side_len": int(max_side),
            "EngineConfig.onnxruntime.use_cuda": device.startswith("cuda"),
        }
        if threads is not None:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(threads)
        self.engine = rapidocr.RapidOCR(params=params)
        self.min_confidence = min_confidence

    def read(self, frame: np.ndarray, span: tuple[float, float]) -> list[TextLine]:
        _check_frame(frame)
        result = self.engine(frame)
        return lines_from_detections(
            result.boxes, result.txts, result.scores, span, self.min_confidence
        )


@OCR_BACKENDS.register("paddleocr")
class PaddleOcrBackend:
    """PaddleOCR 3.x `PaddleOCR` pipeline (English recognition, no document unwarping).

    Frames are given to it in BGR order, as its image readers produce.
    """

    def __init__(
        self,
        min_confidence: float = 0.75,
        device: str = "cpu",
        lang: str = "en",
        detection_model_dir: str | None = None,
        recognition_model_dir: str | None = None,
    ) -> None:
        paddleocr = require("paddleocr", "extract-paddle")
        try:
            self.engine = paddleocr.PaddleOCR(
                lang=lang,
                device=_paddle_device(device),
                use_doc_orientation_classify=False,
                use_doc_unwarping=False,
                use_textline_orientation=False,
                text_detection_model_dir=detection_model_dir,
                text_recognition_model_dir=recognition_model_dir,
            )
        except Exception as error:
            raise BackendUnavailable(
                f"PaddleOCR could not load its models ({type(error).__name__}: {error}). It "
                "downloads them at first use: run once on a machine with internet access (they "
                "are cached in ~/.paddlex), or pass detection_model_dir/recognition_model_dir, or "
                "use the offline `rapidocr` backend."
            ) from error
        self.min_confidence = min_confidence

    def read(self, frame: np.ndarray, span: tuple[float, float]) -> list[TextLine]:
        _check_frame(frame)
        results = self.engine.predict(np.ascontiguousarray(frame[:, :, ::-1]))
        lines: list[TextLine] = []
        for result in results:
            lines.extend(paddle_lines(result, span, self.min_confidence))
        return reading_order(lines)


def paddle_lines(result: Any, span: tuple[float, float], min_confidence: float) -> list[TextLine]:
    """Lines of one PaddleOCR 3.x result (a mapping with rec_texts, rec_scores, rec_polys)."""
    return lines_from_detections(
        result.get("rec_polys"),
        result.get("rec_texts"),
        result.get("rec_scores"),
        span,
        min_confidence,
    )


def _paddle_device(device: str) -> str:
    if device.startswith("cuda"):
        index = device.partition(":")[2] or "0"
        return f"gpu:{index}"
    return "cpu"
