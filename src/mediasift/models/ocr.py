"""Text in pictures, as lines with boxes: RapidOCR 3.10 (PP-OCRv6 small det + rec) on ONNX Runtime."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.config import load_settings
from mediasift.models import ModelRef
from mediasift.models.weights import Lazy, as_rgb_uint8, package_file


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    box: tuple[int, int, int, int]  # x, y, w, h: the axis-aligned hull of the detected polygon


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom, then left to right within a row.

    A row is a run of boxes whose vertical centres fall inside the first box's vertical extent, so
    words on one line whose tops differ by a pixel or two are still read left to right.
    """
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.box[1], item.box[0])):
        y, h = line.box[1], line.box[3]
        centre = y + h / 2
        if rows:
            _, ry, _, rh = rows[-1][0].box
            if ry <= centre <= ry + rh:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.box[0])]


class TextReader:
    """RapidOCR with its model files pinned to the ones inside the wheel.

    Every model path is given explicitly (``Det/Cls/Rec.model_path``) so RapidOCR never resolves a
    model key to a download URL; the recognizer's character set is read from the ONNX metadata, so
    no dictionary file is fetched either. The text-line orientation classifier (upside-down text)
    is off: rare in media, and it costs a pass per line. RapidOCR wants BGR pixels: RGB input is
    converted. Calls are serialised, since RapidOCR keeps per-call settings on the instance.
    """

    ref = ModelRef("rapidocr-ppocrv6-small-det-rec", "rapidocr==3.10.0")

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._engine = Lazy(self._load)
        self._call_lock = threading.Lock()

    def _load(self) -> Any:
        from rapidocr import RapidOCR

        det = package_file("rapidocr", "models", "PP-OCRv6_det_small.onnx")
        rec = package_file("rapidocr", "models", "PP-OCRv6_rec_small.onnx")
        cls = package_file("rapidocr", "models", "ch_ppocr_mobile_v2.0_cls_mobile.onnx")
        params: dict[str, Any] = {
            "Global.log_level": "warning",
            "Global.use_cls": False,
            "Global.model_root_dir": str(det.parent),
            "Det.model_path": str(det),
            "Rec.model_path": str(rec),
            "Cls.model_path": str(cls),
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        engine = RapidOCR(params=params)
        # It warns on every picture without text ("the text detection result is empty"): not news.
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return engine

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        """The text lines of an RGB uint8 picture, in reading order."""
        engine = self._engine.get()
        rgb = as_rgb_uint8(image)
        height, width = rgb.shape[:2]
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        with self._call_lock:
            result = engine(bgr)
        boxes, texts, scores = result.boxes, result.txts, result.scores
        if boxes is None or texts is None or scores is None:
            return []
        lines: list[OcrLine] = []
        for polygon, text, score in zip(boxes, texts, scores, strict=True):
            text = str(text).strip()
            if not text:
                continue
            points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
            left = min(max(math.floor(points[:, 0].min()), 0), width)
            top = min(max(math.floor(points[:, 1].min()), 0), height)
            right = min(max(math.ceil(points[:, 0].max()), 0), width)
            bottom = min(max(math.ceil(points[:, 1].max()), 0), height)
            lines.append(OcrLine(text, float(score), (left, top, right - left, bottom - top)))
        return reading_order(lines)


_default = Lazy(lambda: TextReader(threads=load_settings().model_threads))


def get_text_reader() -> TextReader:
    """The process-wide reader (the models load on first ``read``)."""
    return _default.get()
