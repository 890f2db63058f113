"""Text in pictures, as lines with boxes: RapidOCR 3.10 (PP-OCRv6 small det + rec) on ONNX Runtime,
and the fallback chain that hands a picture to tesseract (:mod:`mediasift.models.tesseract_ocr`) when
RapidOCR fails or is too slow."""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.config import load_settings
from mediasift.inference import stats
from mediasift.inference.fallback import FallbackChain
from mediasift.inference.registry import ModelSpec, Runtime, registry
from mediasift.jobs.breaker import CircuitBreakers
from mediasift.models import ModelRef
from mediasift.models.weights import Lazy, ModelWeightsMissing, as_rgb_uint8, package_file

MODEL_FILES = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx")


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

    ``model_dir`` holds the three ONNX files (``MODEL_FILES``) when they should not come from the
    wheel; a failed load is tried again on the next ``read``. Errors are not counted here: the
    fallback chain that calls this reader counts them, timeouts included.
    """

    ref = ModelRef("rapidocr-ppocrv6-small-det-rec", "rapidocr==3.10.0")

    def __init__(self, threads: int = 2, model_dir: Path | None = None) -> None:
        self.threads = threads
        self.model_dir = model_dir
        self._engine = Lazy(self._load)
        self._call_lock = threading.Lock()

    def load(self) -> TextReader:
        """Load the models now rather than on first use."""
        self._engine.get()
        return self

    def _load(self) -> Any:
        from rapidocr import RapidOCR

        det, rec, cls = weight_files(self.model_dir)
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
            started = time.perf_counter()
            result = engine(bgr)
            stats.record_call(self.ref, 1, time.perf_counter() - started)
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


def weight_files(model_dir: Path | None = None) -> list[Path]:
    """The detection, recognition and orientation models: from ``model_dir``, else from the wheel."""
    if model_dir is None:
        return [package_file("rapidocr", "models", name) for name in MODEL_FILES]
    paths = [model_dir / name for name in MODEL_FILES]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ModelWeightsMissing(f"rapidocr model files missing: {', '.join(missing)}")
    return paths


HANDLE = registry.declare(
    ModelSpec(
        id=TextReader.ref.id,
        version=TextReader.ref.version,
        task="ocr",
        input_kind="image",
        runtime=Runtime.ONNXRUNTIME,
        output="text lines with boxes and confidence",
        files=weight_files,
        load=lambda: TextReader(threads=load_settings().model_threads).load(),
        memory_mb=150,
        cost_per_item_usd=1e-5,  # ~0.3-1 s per picture
    )
)


def get_text_reader() -> TextReader:
    """The process-wide reader, loaded (see the registry for its state)."""
    reader: TextReader = HANDLE.get()
    return reader


# ------------------------------------------------------------------------------ the fallback chain

OCR_CHAIN = ModelRef("ocr-rapidocr-then-tesseract", f"{TextReader.ref.version};then=tesseract")

Reader = Callable[[npt.NDArray[np.uint8]], list[OcrLine]]


def ocr_chain(
    timeout_s: float,
    breakers: CircuitBreakers,
    primary: Reader | None = None,
    fallback: Reader | None = None,
) -> FallbackChain[list[OcrLine]]:
    """rapidocr, then tesseract, each given ``timeout_s`` per picture. The readers default to the
    registry's models, taken per call (so an unloaded one loads again, inside the timed call)."""
    # Imported here: the tesseract module builds on this one's OcrLine.
    from mediasift.models.tesseract_ocr import TesseractReader, get_tesseract_reader

    return FallbackChain(
        OCR_CHAIN,
        [
            (TextReader.ref, primary or (lambda image: get_text_reader().read(image))),
            (TesseractReader.ref, fallback or (lambda image: get_tesseract_reader().read(image))),
        ],
        timeout_s=timeout_s,
        breakers=breakers,
    )


@functools.cache
def shared_chain(timeout_s: float, threshold: int, cooldown_s: float) -> FallbackChain[list[OcrLine]]:
    """One chain per process and configuration, so its breakers see every job's pictures."""
    return ocr_chain(timeout_s, CircuitBreakers(threshold, cooldown_s))


def _settings_chain() -> FallbackChain[list[OcrLine]]:
    settings = load_settings()
    return shared_chain(settings.ocr_timeout_s, settings.breaker_threshold, settings.breaker_cooldown_s)


# Declared so that listings show it and its counters (fallbacks, answers per engine). It needs only
# rapidocr's files: tesseract is optional.
CHAIN_HANDLE = registry.declare(
    ModelSpec(
        id=OCR_CHAIN.id,
        version=OCR_CHAIN.version,
        task="ocr, rapidocr first, tesseract when it fails or times out",
        input_kind="image",
        runtime=Runtime.ROUTER,
        output="text lines with boxes and confidence, and the engine that read them",
        files=weight_files,
        load=_settings_chain,
        cost_per_item_usd=1e-5,  # the tier it tries first
    )
)
