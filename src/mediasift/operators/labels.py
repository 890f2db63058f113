"""ImageNet labels and a visual feature vector, from one EfficientNet-Lite3 pass per picture.

The labels above a confidence floor become a searchable text segment; the feature vector is stored
on the same segment for image-to-image similarity.
"""

from __future__ import annotations

from typing import Any

from mediasift.config import Settings
from mediasift.inference.catalog import Role
from mediasift.operators.images import ImageOperator, iter_images
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut


class Labels(ImageOperator):
    name = "labels"
    version = "1"
    produces = frozenset({TEXT})
    role = Role.IMAGE_LABELS

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"min_confidence": settings.label_min_confidence, "top_k": 5}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            if item.too_small:
                continue
            labels, features = ctx.inference.labels(item.pixels)
            labels = labels[: ctx.params["top_k"]]
            kept = [(label, score) for label, score in labels if score >= ctx.params["min_confidence"]]
            top = labels[0][1] if labels else None
            scored = [{"label": label, "confidence": round(score, 4)} for label, score in labels]
            result.segments.append(
                SegmentOut(
                    kind="labels",
                    key=item.key,
                    start=item.start,
                    end=item.end,
                    text="; ".join(label for label, _ in kept) or None,
                    confidence=top,
                    data={"labels": scored},
                    vectors={ctx.inference.features_ref: features},
                )
            )
            result.artifacts.append(
                ArtifactOut(kind="labels", key=item.key, data={"labels": scored}, confidence=top,
                            segment_key=item.key)
            )  # fmt: skip
        return result
