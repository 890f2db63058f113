"""A small JPEG that stands for the asset: the image itself, or a video's middle keyframe; and for a
picture in a format browsers do not display (HEIC, TIFF), a larger JPEG preview that pages show instead.

The middle rather than the first frame: first frames are often black or a title card. A picture
longer than ``MAX_ASPECT`` times its width or height (a panorama strip, a banner) stands by its
middle part of that shape: shrunk whole, a 20000x80 banner came out 320x1, a line of colour. That
part is cut from the file's own pixels (the copy the operators share is shrunk to at most
``MAX_ANALYSIS_SIDE`` a side, the banner to 2560x10).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageOps

from mediasift.config import Settings
from mediasift.media.pictures import flattened
from mediasift.mediatype import BROWSER_PICTURES, MediaType
from mediasift.operators.images import MAX_ANALYSIS_SIDE, ImageOperator, encode_jpeg, iter_images
from mediasift.pipeline.operator import OperatorContext
from mediasift.records import ArtifactOut, OperatorResult

# Shrunk by a box filter straight to about the size: 2.2 ms for a 1600-pixel photo rather than 8.3 at
# Pillow's default gap of 2 (17.7 with LANCZOS alone), 45 dB PSNR against LANCZOS alone (54 at the
# default): the same picture at 320 pixels (30 of bench/photos.py's photos).
REDUCING_GAP = 1.0
MAX_ASPECT = 4.0
PREVIEW_SIDE = 1600


def middle_box(width: int, height: int, max_aspect: float = MAX_ASPECT) -> tuple[int, int, int, int] | None:
    """The middle part of a ``width`` x ``height`` picture at most ``max_aspect`` times as long as it is
    wide, as (left, top, right, bottom); None when the whole picture is no longer than that."""
    if width > max_aspect * height:
        keep = max(1, round(max_aspect * height))
        return ((width - keep) // 2, 0, (width - keep) // 2 + keep, height)
    if height > max_aspect * width:
        keep = max(1, round(max_aspect * width))
        return (0, (height - keep) // 2, width, (height - keep) // 2 + keep)
    return None


class Thumbnail(ImageOperator):
    name = "thumbnail"
    version = "3"  # 2: shrunk with REDUCING_GAP 1 (2 before); 3: a long picture by its middle part

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"max_side": settings.thumbnail_px}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        items = list(iter_images(ctx))
        if not items:
            return OperatorResult()
        chosen = items[len(items) // 2]
        pixels = chosen.pixels
        box = middle_box(pixels.shape[1], pixels.shape[0])
        if box is not None:
            left, top, right, bottom = box
            pixels = _middle_of_file(ctx) if ctx.asset.media_type is MediaType.IMAGE else pixels[top:bottom, left:right]
        sha = ctx.put_blob(
            encode_jpeg(pixels, ctx.params["max_side"], quality=80, reducing_gap=REDUCING_GAP),
            "image/jpeg",
        )
        data = {"source": chosen.key, "time": chosen.start}
        artifacts = [ArtifactOut(kind="thumbnail", data=data, blob_sha256=sha)]
        if ctx.asset.media_type is MediaType.IMAGE and ctx.asset.mime not in BROWSER_PICTURES:
            preview = ctx.put_blob(encode_jpeg(chosen.pixels, PREVIEW_SIDE, quality=85), "image/jpeg")
            artifacts.append(ArtifactOut(kind="preview", data=data, blob_sha256=preview))
        return OperatorResult(artifacts=artifacts)


def _middle_of_file(ctx: OperatorContext) -> np.ndarray:
    """The middle part (:func:`middle_box`) of a long image file, from its own pixels, upright."""
    with Image.open(ctx.media_path) as image:  # an animated picture opens at its first frame
        upright = ImageOps.exif_transpose(image)
        part = middle_box(*upright.size)
        return np.asarray(flattened(upright if part is None else upright.crop(part), MAX_ANALYSIS_SIDE))
