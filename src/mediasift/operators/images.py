"""The still images an image operator looks at: the image itself, or a video's keyframes.

Each picture is decoded once per process for all the image operators
(:mod:`mediasift.media.picture_cache`): their pixels are shared and read-only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
from PIL import Image

from mediasift.inference.remote_cache import LruCache, cache_key
from mediasift.media.animation import distinct_frames
from mediasift.media.picture_cache import PictureCache
from mediasift.media.pictures import flattened
from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import Operator, OperatorContext

KEYFRAMES = "keyframes"
MAX_ANALYSIS_SIDE = 2560
PICTURES = PictureCache()  # this process's decoded pictures, by blob digest (and file)
Timeline = tuple[tuple[int, float, float], ...]  # an animated picture's frames: (index, start, end)
# When each analysed frame of the animated pictures in PICTURES is shown: a few numbers a picture,
# kept for many more pictures than that cache holds.
TIMELINES = LruCache(entries=4096)


# A picture smaller than this a side (a tracking pixel, a spacer, an icon's corner) shows nothing a
# detector or classifier can name: scaled up to its input size, a 1x1 red PNG was a "refrigerator" (0.61).
MIN_MODEL_SIDE = 16


@dataclass(frozen=True)
class ImageItem:
    """One picture to analyse, with where it sits in the asset (a time range for a keyframe)."""

    key: str
    start: float | None
    end: float | None
    pixels: np.ndarray  # RGB uint8, H x W x 3

    @property
    def too_small(self) -> bool:
        """Whether the models that name what a picture shows should not look at it (:data:`MIN_MODEL_SIDE`)."""
        return min(self.pixels.shape[:2]) < MIN_MODEL_SIDE


def to_rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(flattened(image, MAX_ANALYSIS_SIDE))


class ImageOperator(Operator):
    """An operator over still pictures: an image asset itself, or a video's keyframes."""

    media_types = frozenset({MediaType.IMAGE, MediaType.VIDEO})

    def requires(self, media_type: MediaType) -> tuple[str, ...]:
        return (KEYFRAMES,) if media_type is MediaType.VIDEO else ()


def iter_images(ctx: OperatorContext) -> Iterator[ImageItem]:
    """The asset's pictures, decoded (or taken from the process's cache: another image operator of the
    same asset may have decoded them already). Their pixels are read-only."""
    if ctx.asset.media_type is MediaType.IMAGE:
        # The file's path as well as its digest: a context made without a real digest (a test's, an
        # evaluation's) must not be given another file's pixels.
        key = (ctx.asset.sha256, str(ctx.media_path), MAX_ANALYSIS_SIDE)
        if ctx.asset.metadata.get("animated"):
            yield from _animation(key, ctx)
            return
        pixels = PICTURES.get(key, partial(_decode_file, ctx))
        yield ImageItem("image", None, None, pixels)
        return
    for seg in ctx.segments(operator=KEYFRAMES, kind="keyframe"):
        sha: str = seg.data["blob"]
        pixels = PICTURES.get((sha, MAX_ANALYSIS_SIDE), partial(_decode_blob, ctx, sha))
        yield ImageItem(seg.key, seg.start, seg.end, pixels)


def _animation(key: tuple[str, str, int], ctx: OperatorContext) -> Iterator[ImageItem]:
    """An animated picture's distinct frames (:mod:`mediasift.media.animation`), each timed like a
    video's keyframe, decoded once for all the image operators: their pixels stacked in the picture
    cache, and when each is shown beside it."""

    timeline_key = cache_key(*map(str, key))

    def decode() -> np.ndarray:
        frames = distinct_frames(str(ctx.media_path), MAX_ANALYSIS_SIDE)
        TIMELINES.put(timeline_key, tuple((frame.index, frame.start, frame.end) for frame in frames))
        return np.stack([frame.pixels for frame in frames])

    stacked = PICTURES.get((*key, "frames"), decode)
    timeline: Timeline | None = TIMELINES.get(timeline_key)
    if timeline is None:  # dropped while its pixels were kept (far more timelines are kept than pixels)
        decode()  # the same frames again: their choice depends on the file alone
        timeline = TIMELINES.get(timeline_key) or ()
    for (index, start, end), pixels in zip(timeline, stacked, strict=True):
        yield ImageItem(f"frame-{index:05d}", start, end, pixels)


def _decode_file(ctx: OperatorContext) -> np.ndarray:
    with Image.open(ctx.media_path) as image:  # at its first frame (a HEIF file: at its primary image)
        return to_rgb_array(image)


def _decode_blob(ctx: OperatorContext, sha: str) -> np.ndarray:
    with Image.open(io.BytesIO(ctx.read_blob(sha))) as image:
        return to_rgb_array(image)


def encode_jpeg(pixels: np.ndarray, max_side: int, quality: int = 85, reducing_gap: float = 2.0) -> bytes:
    """The pixels as a JPEG at most ``max_side`` a side: shrunk by a box filter to within
    ``reducing_gap`` times the size, then with LANCZOS (Pillow's ``thumbnail``)."""
    image = Image.fromarray(pixels)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=reducing_gap)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
