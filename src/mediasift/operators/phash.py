"""Perceptual hashes (pHash, 64 bits) for near-duplicate matching of images and keyframes."""

from __future__ import annotations

import imagehash
from PIL import Image

from mediasift.mediatype import MediaType
from mediasift.operators.images import image_requires, iter_images
from mediasift.pipeline.operator import ArtifactOut, Operator, OperatorContext, OperatorResult


class PerceptualHash(Operator):
    name = "phash"
    version = "1"
    media_types = frozenset({MediaType.IMAGE, MediaType.VIDEO})

    def requires(self, media_type: MediaType) -> tuple[str, ...]:
        return image_requires(media_type)

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            digest = str(imagehash.phash(Image.fromarray(item.pixels)))
            result.artifacts.append(
                ArtifactOut(kind="phash", key=item.key, data={"phash": digest, "start": item.start})
            )
        return result
