"""Reading text in pictures: rapidocr first, tesseract when rapidocr fails or is too slow.

The chain (:class:`~mediasift.inference.fallback.FallbackChain`) gives each engine ``ocr_timeout_s``
per picture behind its own circuit breaker. Which engine read a picture is part of the answer. Only
what the primary engine read is cached: a fallback's reading is not, so the primary reads the picture
again once it is back.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediasift.models import ModelRef
from mediasift.models.ocr import OcrLine, TextReader
from mediasift.models.tesseract_ocr import TesseractReader

CHAIN = ModelRef("ocr-rapidocr-then-tesseract", f"{TextReader.ref.version};then=tesseract")
PRIMARY = TextReader.ref
FALLBACK = TesseractReader.ref


@dataclass(frozen=True)
class Reading:
    """The lines of one picture, and the id of the engine that read them."""

    engine: str
    lines: list[OcrLine]
