"""Text drawn in images and keyframes (rapidocr), with boxes and confidence."""

from __future__ import annotations

from typing import Any

from mediasift.config import Settings
from mediasift.models.ocr import TextReader, get_text_reader
from mediasift.operators.images import ImageOperator, iter_images
from mediasift.pipeline.operator import ArtifactOut, OperatorContext, OperatorResult, SegmentOut


class Ocr(ImageOperator):
    name = "ocr"
    version = "1"
    model = TextReader.ref

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"min_confidence": settings.ocr_min_confidence}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        reader = get_text_reader()
        result = OperatorResult()
        for item in iter_images(ctx):
            lines = [
                line for line in reader.read(item.pixels) if line.confidence >= ctx.params["min_confidence"]
            ]
            if not lines:
                continue
            found = [
                {"text": ln.text, "confidence": round(ln.confidence, 4), "box": list(ln.box)} for ln in lines
            ]
            mean = sum(ln.confidence for ln in lines) / len(lines)
            result.segments.append(
                SegmentOut(kind="ocr", key=item.key, start=item.start, end=item.end,
                           text="\n".join(ln.text for ln in lines), confidence=mean, data={"lines": found})
            )  # fmt: skip
            result.artifacts.append(
                ArtifactOut(kind="ocr", key=item.key, data={"lines": found}, confidence=mean,
                            segment_key=item.key)
            )  # fmt: skip
        return result
