"""The OCR operator's floor (``ocr_min_confidence``, 0.5): every line read is stored with its
confidence; only lines at the floor or over it are searchable text.

These tests do not steer the OCR models' own confidences to either side of the floor; they give
the operator's own step that applies it (``Ocr._image``, which ``Ocr.run`` calls with the lines the
models read) lines at 0.52 and 0.48, with the floor from the operator's parameters as the pipeline
passes it.
"""

from __future__ import annotations

import numpy as np

from mediasift.config import Settings
from mediasift.models.ocr import OcrLine
from mediasift.operators.images import ImageItem
from mediasift.operators.ocr import Ocr
from mediasift.records import OperatorResult

INSIDE = OcrLine("Harbour closed", 0.52, (10, 10, 200, 30))
PAST = OcrLine("until Monday", 0.48, (10, 50, 200, 30))


def _read(settings: Settings) -> OperatorResult:
    item = ImageItem("image", None, None, np.zeros((100, 240, 3), np.uint8))
    floor = Ocr().params(settings)["min_confidence"]
    return Ocr._image([(item, [INSIDE, PAST])], {"image": "rapidocr"}, floor)


def test_a_line_is_searchable_from_confidence_0_5() -> None:
    """0.52 (inside the line) is searchable; 0.48 (just past it) is stored only."""
    (segment,) = _read(Settings()).segments
    assert segment.text == "Harbour closed"
    assert segment.confidence == 0.52, "the searchable lines' mean"
    assert [line["text"] for line in segment.data["lines"]] == ["Harbour closed", "until Monday"]


def test_the_setting_moves_the_line() -> None:
    (lower,) = _read(Settings(ocr_min_confidence=0.45)).segments
    assert lower.text == "Harbour closed\nuntil Monday"
    (higher,) = _read(Settings(ocr_min_confidence=0.55)).segments
    assert higher.text is None and higher.confidence == 0.52, "none searchable: the best line's"


def test_a_line_of_one_character_is_stored_but_not_searchable() -> None:
    """A lone "0" read off a texture matched "EXIT 42"; two characters (inside) are searchable text, one
    (past it) is stored with its confidence only."""
    item = ImageItem("image", None, None, np.zeros((100, 240, 3), np.uint8))
    lines = [
        OcrLine("0", 0.9, (10, 10, 20, 30)),
        OcrLine("T", 0.95, (40, 10, 20, 30)),
        OcrLine("42", 0.9, (70, 10, 40, 30)),
    ]
    (segment,) = Ocr._image([(item, lines)], {"image": "rapidocr"}, 0.5).segments
    assert segment.text == "42" and [line["text"] for line in segment.data["lines"]] == ["0", "T", "42"]
    (alone,) = Ocr._image([(item, lines[:2])], {"image": "rapidocr"}, 0.5).segments
    assert alone.text is None
