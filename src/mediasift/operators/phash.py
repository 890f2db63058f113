"""Perceptual hashes (pHash, 64 bits) for near-duplicate matching of images and keyframes."""

from __future__ import annotations

import imagehash
from PIL import Image

from mediasift.operators.images import ImageOperator, iter_images
from mediasift.pipeline.operator import OperatorContext
from mediasift.records import ArtifactOut, OperatorResult


class PerceptualHash(ImageOperator):
    name = "phash"
    version = "1"

    def run(self, ctx: OperatorContext) -> OperatorResult:
        result = OperatorResult()
        for item in iter_images(ctx):
            digest = str(imagehash.phash(Image.fromarray(item.pixels)))
            result.artifacts.append(
                ArtifactOut(kind="phash", key=item.key, data={"phash": digest, "start": item.start})
            )
        return result
