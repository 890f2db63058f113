"""COCO objects with boxes (SSD-MobileNet-v2); the names found become searchable text."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from mediasift.config import Settings
from mediasift.inference.cache import cached_records, input_hash
from mediasift.models.object_detector import Detection, ObjectDetector, get_object_detector
from mediasift.operators.images import ImageOperator, iter_images
from mediasift.pipeline.operator import ArtifactOut, OperatorContext, OperatorResult, SegmentOut


def describe(counts: Counter[str]) -> str:
    """'2 person, dog' reads better for retrieval than a repeated list."""
    return ", ".join(f"{n} {label}" if n > 1 else label for label, n in counts.most_common())


def detect(pixels: np.ndarray, min_confidence: float) -> list[Detection]:
    """The objects in a picture; the same picture seen before costs no inference."""
    detector = get_object_detector()
    key = input_hash(pixels, str(min_confidence))
    return cached_records(ObjectDetector.ref, key, lambda: detector.detect(pixels, min_confidence), Detection)


class Objects(ImageOperator):
    name = "objects"
    version = "1"
    model = ObjectDetector.ref

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"min_confidence": settings.object_min_confidence}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            found = detect(item.pixels, ctx.params["min_confidence"])
            objects = [{"label": d.label, "confidence": round(d.confidence, 4), "box": list(d.box)} for d in found]
            top = max((d.confidence for d in found), default=None)
            if found:
                result.segments.append(
                    SegmentOut(kind="objects", key=item.key, start=item.start, end=item.end,
                               text=describe(Counter(d.label for d in found)), confidence=top,
                               data={"objects": objects})
                )  # fmt: skip
            result.artifacts.append(
                ArtifactOut(kind="objects", key=item.key, data={"objects": objects, "start": item.start},
                            confidence=top, segment_key=item.key if found else None)
            )  # fmt: skip
        return result
