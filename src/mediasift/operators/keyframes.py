"""Keyframes of a video at a fixed interval, each the frame in the middle of its interval.

Seeking to each target and decoding forward from the preceding key frame costs a fraction of a
full decode when the interval is longer than the group of pictures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import av
import numpy as np

from mediasift.config import Settings
from mediasift.errors import PermanentError
from mediasift.mediatype import MediaType
from mediasift.operators.images import encode_jpeg
from mediasift.pipeline.operator import (
    ArtifactOut,
    Operator,
    OperatorContext,
    OperatorResult,
    SegmentOut,
)

KEYFRAME_MAX_SIDE = 1280


def keyframe_times(duration: float, interval: float, max_frames: int) -> list[tuple[float, float, float]]:
    """(start, end, frame time) per interval; the interval grows so no more than max_frames result."""
    if duration <= 0:
        return [(0.0, 0.0, 0.0)]
    interval = max(interval, duration / max_frames)
    spans = []
    start = 0.0
    while start < duration - 1e-6:
        end = min(start + interval, duration)
        spans.append((start, end, (start + end) / 2))
        start = end
    return spans


def _rotate(pixels: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded frame upright; ``rotation`` is clockwise degrees as players apply them."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, k=-turns)) if turns else pixels


def decode_frames_at(path: str, times: list[float]) -> Iterator[tuple[float, np.ndarray]]:
    """The first frame at or after each time, as RGB arrays, in time order."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = float(stream.time_base) if stream.time_base else 1e-6
        start_offset = float(stream.start_time * base) if stream.start_time is not None else 0.0
        last = None
        for target in times:
            container.seek(int((target + start_offset) / base), stream=stream, backward=True)
            frame = None
            for candidate in container.decode(stream):
                frame = candidate
                if candidate.time is not None and candidate.time - start_offset >= target - 1e-3:
                    break
            if frame is None:
                frame = last
            if frame is None:
                continue
            last = frame
            yield target, frame.to_ndarray(format="rgb24")


class Keyframes(Operator):
    name = "keyframes"
    version = "1"
    media_types = frozenset({MediaType.VIDEO})

    def params(self, settings: Settings) -> dict[str, Any]:
        return {
            "interval_s": settings.keyframe_interval_s,
            "max_frames": settings.max_keyframes,
            "max_side": KEYFRAME_MAX_SIDE,
        }

    def run(self, ctx: OperatorContext) -> OperatorResult:
        duration = float(ctx.asset.metadata.get("duration") or 0.0)
        rotation = int(ctx.asset.metadata.get("rotation") or 0)
        spans = keyframe_times(duration, ctx.params["interval_s"], ctx.params["max_frames"])
        frames = dict(decode_frames_at(str(ctx.media_path), [t for _, _, t in spans]))
        if not frames:
            raise PermanentError("no frame of the video could be decoded")
        result = OperatorResult()
        for index, (start, end, time) in enumerate(spans):
            pixels = frames.get(time)
            if pixels is None:
                continue
            pixels = _rotate(pixels, rotation)
            sha = ctx.put_blob(encode_jpeg(pixels, ctx.params["max_side"]), "image/jpeg")
            key = f"kf{index:05d}"
            data = {"blob": sha, "time": round(time, 3), "width": pixels.shape[1], "height": pixels.shape[0]}
            result.segments.append(SegmentOut(kind="keyframe", key=key, start=start, end=end, data=data))
            result.artifacts.append(ArtifactOut(kind="keyframe", key=key, data=data, blob_sha256=sha,
                                                segment_key=key))  # fmt: skip
        return result
