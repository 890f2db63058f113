"""CLIP image vectors and zero-shot tags for each picture, when a CLIP folder is configured.

Each picture (an image, or a video's keyframe) gets a segment of kind "clip" that carries its
CLIP image vector, which text-to-image search matches queries against, and, as its text, the
zero-shot tags above a probability floor, which the text-embedding step makes searchable like labels.

Off unless ``MEDIASIFT_CLIP_DIR`` is set: ``Operator.applies`` sees only the asset, so the switch is
``Operator.enabled``, which the job planner asks with its settings. While it is off the operator is
in the pipeline graph (``embed_text`` names it as an input) but never gets a job, run or result.

The model is whatever folder is configured: its id and version, with the hash of the weights, name
the operator's model, are in each run's parameters (so new weights make results stale) and are on
every stored vector.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mediasift.config import Settings
from mediasift.inference.catalog import Catalog, Role
from mediasift.inference.door import Inference
from mediasift.models.clip import BATCH_SIZE, TAGS_FILE
from mediasift.operators.images import ImageItem, ImageOperator, iter_images
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ArtifactOut, ModelRef, OperatorResult, SegmentOut

MIN_TAG_PROBABILITY = 0.2
TOP_K = 5


def configured_tags(settings: Settings) -> list[str]:
    """The zero-shot tags: ``MEDIASIFT_CLIP_TAGS`` (comma-separated), else the folder's tags.txt
    (blank lines and ``#`` comments skipped), else none. Duplicates are dropped, order is kept."""
    if settings.clip_tags.strip():
        tags = settings.clip_tags.split(",")
    elif settings.clip_dir is not None and (settings.clip_dir / TAGS_FILE).is_file():
        tags = (settings.clip_dir / TAGS_FILE).read_text(encoding="utf-8").splitlines()
    else:
        tags = []
    cleaned = (tag.strip() for tag in tags)
    return list(dict.fromkeys(tag for tag in cleaned if tag and not tag.startswith("#")))


class Clip(ImageOperator):
    name = "clip"
    version = "1"
    produces = frozenset({TEXT})

    def enabled(self, settings: Settings) -> bool:
        return settings.clip_dir is not None

    def model(self, settings: Settings) -> ModelRef | None:
        catalog = Catalog(settings)
        return catalog.ref(Role.CLIP) if catalog.configured(Role.CLIP) else None

    def params(self, settings: Settings) -> dict[str, Any]:
        """The model's version (its weights' hash) is a parameter, so new weights make every
        picture's result stale; so are the tags."""
        ref = self.model(settings)
        if ref is None:
            return {}
        return {
            "model": ref.id,
            "model_version": ref.version,
            "tags": configured_tags(settings),
            "min_probability": MIN_TAG_PROBABILITY,
            "top_k": TOP_K,
        }

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        batch: list[ImageItem] = []
        for item in iter_images(ctx):
            batch.append(item)
            if len(batch) == BATCH_SIZE:
                self._add(result, ctx.inference, batch, ctx.params)
                batch = []
        if batch:
            self._add(result, ctx.inference, batch, ctx.params)
        return result

    @staticmethod
    def _add(result: OperatorResult, inference: Inference, items: list[ImageItem], params: Mapping[str, Any]) -> None:
        ref = inference.catalog.ref(Role.CLIP)
        vectors = inference.clip_images([item.pixels for item in items])
        scored_per_item = inference.clip_tags(np.stack(vectors), params["tags"])
        for item, vector, scored in zip(items, vectors, scored_per_item, strict=True):
            top = scored[: params["top_k"]]
            kept = [tag for tag, probability in top if probability >= params["min_probability"]]
            tags = [{"tag": tag, "probability": round(probability, 4)} for tag, probability in top]
            result.segments.append(
                SegmentOut(
                    kind="clip",
                    key=item.key,
                    start=item.start,
                    end=item.end,
                    text="; ".join(kept) or None,
                    confidence=top[0][1] if top else None,
                    data={"tags": tags},
                    vectors={ref: np.asarray(vector)},
                )
            )
            if tags:
                result.artifacts.append(
                    ArtifactOut(kind="clip_tags", key=item.key, data={"tags": tags}, confidence=top[0][1],
                                segment_key=item.key)
                )  # fmt: skip
