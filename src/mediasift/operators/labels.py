"""ImageNet labels and a visual feature vector, from one EfficientNet-Lite3 pass per picture.

The labels above a confidence floor become a searchable text segment; the feature vector is stored
on the same segment for image-to-image similarity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mediasift.config import Settings
from mediasift.inference.cache import cached_call, input_hash
from mediasift.models import ModelRef
from mediasift.models.image_classifier import ImageClassifier, get_image_classifier
from mediasift.operators.images import ImageOperator, iter_images
from mediasift.pipeline.operator import ArtifactOut, OperatorContext, OperatorResult, SegmentOut

FEATURES_MODEL = ModelRef(ImageClassifier.ref.id + "-features", ImageClassifier.ref.version)


def classify(pixels: np.ndarray) -> tuple[list[tuple[str, float]], np.ndarray]:
    """Labels and features of a picture; the same picture seen before costs no inference."""
    classifier = get_image_classifier()
    labels, features = cached_call(
        ImageClassifier.ref, input_hash(pixels), lambda: classifier.classify_and_features(pixels)
    )
    return [(str(label), float(score)) for label, score in labels], features


class Labels(ImageOperator):
    name = "labels"
    version = "1"
    model = ImageClassifier.ref

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"min_confidence": settings.label_min_confidence, "top_k": 5}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            labels, features = classify(item.pixels)
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
                    vectors={FEATURES_MODEL: features},
                )
            )
            result.artifacts.append(
                ArtifactOut(kind="labels", key=item.key, data={"labels": scored}, confidence=top,
                            segment_key=item.key)
            )  # fmt: skip
        return result
