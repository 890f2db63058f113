"""COCO objects with boxes (SSD-MobileNet-v2); the names found become searchable text."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mediasift.config import Settings
from mediasift.inference.catalog import Role
from mediasift.operators.images import ImageOperator, iter_images
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut


def describe(counts: Counter[str]) -> str:
    """'2 person, dog' reads better for retrieval than a repeated list."""
    return ", ".join(f"{n} {label}" if n > 1 else label for label, n in counts.most_common())


class Objects(ImageOperator):
    name = "objects"
    version = "2"  # 2: the detector runs on ONNX Runtime (confidences may move in the 6th decimal)
    produces = frozenset({TEXT})
    role = Role.OBJECTS

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"min_confidence": settings.object_min_confidence}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            if item.too_small:
                continue
            found = ctx.inference.objects(item.pixels, ctx.params["min_confidence"])
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
