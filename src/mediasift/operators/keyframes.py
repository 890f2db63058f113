"""Shots of a video, a keyframe for each, and a strip of them.

Shot boundaries (hard cuts, fades, dissolves) come from :mod:`mediasift.media.shots`. Per shot
this emits a "shot" segment (the time range later stages attach their results to) and a
"keyframe" segment holding the JPEG of the shot's keyframe (what the image operators read), plus a
"shot" artifact so ``assets show`` lists each shot with its start, end and keyframe. A shot longer
than ``long_shot_s`` (60 s) gets one more keyframe per 60 s, so a long static take is still
searchable along its length. When a video has more keyframes than ``max_keyframes``, only the
longest shots keep theirs (every shot keeps its segment). One "thumbnail_strip" artifact shows
up to ``strip_shots`` shot keyframes side by side.

A keyframe is stored as a player shows the frame (:class:`mediasift.media.video.VideoSource`):
upright, and at display aspect (a 704x576 frame with a 16:11 sample aspect ratio is 1024x576), at
most ``max_side`` pixels a side; its data's ``width`` and ``height`` are the stored picture's.
"""

from __future__ import annotations

import io
from dataclasses import asdict, replace
from itertools import count
from typing import Any

import numpy as np
from PIL import Image

from mediasift.config import Settings
from mediasift.media.shots import Shot, ShotConfig, ShotList, detect_shots
from mediasift.media.video import VideoSource
from mediasift.mediatype import MediaType
from mediasift.operators.images import encode_jpeg
from mediasift.pipeline.operator import Operator, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut

KEYFRAME_MAX_SIDE = 1280
STRIP_HEIGHT = 90
STRIP_SHOTS = 20


class Keyframes(Operator):
    name = "keyframes"
    version = "4"  # 4: keyframes at display aspect (anamorphic video), turned by the file's own rotation
    media_types = frozenset({MediaType.VIDEO})

    def params(self, settings: Settings) -> dict[str, Any]:
        return {
            "shots": asdict(ShotConfig()),
            "max_keyframes": settings.max_keyframes,
            "max_side": KEYFRAME_MAX_SIDE,
            "strip_height": STRIP_HEIGHT,
            "strip_shots": STRIP_SHOTS,
        }

    def run(self, ctx: OperatorContext) -> OperatorResult:
        shots = ctx.params["shots"]
        config = ShotConfig(**{**shots, "dissolve_scales_s": tuple(shots["dissolve_scales_s"])})
        found = detect_shots(ctx.media_path, config=config)  # NoVideoFrames is a PermanentError
        wanted = _keyframe_times(found.shots, ctx.params["max_keyframes"])
        times = sorted({time for shot_times in wanted.values() for time in shot_times})
        with VideoSource(ctx.media_path) as video:
            pictures = video.frames_at(times, exact=False, sync_times=found.sync_times, max_side=ctx.params["max_side"])
        images = dict(pictures)
        shots = _stand_ins(ctx, found, wanted, images, config.edge_s)
        result = OperatorResult()
        keys = (f"kf{number:05d}" for number in count(1))
        strip = []
        for index, shot in enumerate(shots):
            shot_key = f"shot{index + 1:05d}"
            stored = {
                time: _keyframe(ctx, result, shot, shot_key, next(keys), time, images[time])
                for time in wanted.get(index, [])
                if time in images
            }
            own = stored.get(shot.keyframe_time)
            if own is not None:
                strip.append(images[shot.keyframe_time])
            _shot(result, shot, shot_key, own, found)
        if strip:
            result.artifacts.append(_strip(ctx, strip, found))
        return result


STAND_INS = 6  # frames spread over a shot, tried when its keyframe's frame does not decode


def _stand_ins(
    ctx: OperatorContext,
    found: ShotList,
    wanted: dict[int, list[float]],
    images: dict[float, np.ndarray],
    edge_s: float,
) -> list[Shot]:
    """The shots, each keyframe whose frame did not decode (a damaged packet that broke the picture
    the decoder started from) replaced in ``wanted`` and ``images`` by the nearest of a few other
    frames of its shot that do: a shot keeps pictures for the image operators. Decoded afresh from
    the file's own random-access points, not those the first decode recorded."""
    lost = [(index, time) for index, times in wanted.items() for time in times if time not in images]
    shots = list(found.shots)
    if not lost:
        return shots
    tries: dict[tuple[int, float], list[float]] = {}
    for index, time in lost:
        shot = shots[index]
        edge = min(edge_s, (shot.end - shot.start) / 3)  # inside a shot shorter than two edges too
        spread = np.linspace(shot.start + edge, shot.end - edge, STAND_INS)
        tries[(index, time)] = sorted((float(t) for t in spread if abs(t - time) > 1e-3), key=lambda t: abs(t - time))
    with VideoSource(ctx.media_path) as video:
        decoded = dict(
            video.frames_at(
                sorted({t for ts in tries.values() for t in ts}), exact=False, max_side=ctx.params["max_side"]
            )
        )
    for (index, time), candidates in tries.items():
        stand_in = next((t for t in candidates if t in decoded), None)
        if stand_in is None:
            continue
        wanted[index] = sorted(stand_in if t == time else t for t in wanted[index])
        images[stand_in] = decoded[stand_in]
        if shots[index].keyframe_time == time:
            shots[index] = replace(shots[index], keyframe_time=stand_in)
    return shots


def _keyframe_times(shots: list[Shot], limit: int) -> dict[int, list[float]]:
    """Keyframe times per shot index: the shot's own and a long shot's extra ones; where there are
    more than ``limit`` in all, those of the longest shots."""
    entries = [
        (shot.end - shot.start, index, time)
        for index, shot in enumerate(shots)
        for time in (shot.keyframe_time, *shot.extra_keyframe_times)
    ]
    kept: dict[int, list[float]] = {}
    for _, index, time in sorted(entries, key=lambda entry: -entry[0])[: max(1, limit)]:
        kept.setdefault(index, []).append(time)
    return {index: sorted(times) for index, times in kept.items()}


def _keyframe(
    ctx: OperatorContext,
    result: OperatorResult,
    shot: Shot,
    shot_key: str,
    key: str,
    time: float,
    pixels: np.ndarray,
) -> dict[str, Any]:
    sha = ctx.put_blob(encode_jpeg(pixels, ctx.params["max_side"]), "image/jpeg")
    height, width = pixels.shape[:2]
    data = {"blob": sha, "time": round(time, 3), "width": width, "height": height, "shot": shot_key}
    result.segments.append(SegmentOut(kind="keyframe", key=key, start=shot.start, end=shot.end, data=data))
    result.artifacts.append(ArtifactOut(kind="keyframe", key=key, data=data, blob_sha256=sha, segment_key=key))
    return data


def _shot(result: OperatorResult, shot: Shot, key: str, keyframe: dict[str, Any] | None, found: ShotList) -> None:
    data = {
        "transition_in": shot.transition_in,
        "keyframe_time": round(shot.keyframe_time, 3),
        "start_frame": shot.start_frame,
        "end_frame": shot.end_frame,
    }
    result.segments.append(SegmentOut(kind="shot", key=key, start=shot.start, end=shot.end, data=data))
    sha = keyframe["blob"] if keyframe else None
    artifact = {**data, "start": round(shot.start, 3), "end": round(shot.end, 3), "fps": round(found.fps, 3)}
    if keyframe:
        artifact |= {"keyframe_blob": sha, "keyframe_width": keyframe["width"], "keyframe_height": keyframe["height"]}
    result.artifacts.append(ArtifactOut(kind="shot", key=key, data=artifact, blob_sha256=sha, segment_key=key))


def _strip(ctx: OperatorContext, keyframes: list[np.ndarray], found: ShotList) -> ArtifactOut:
    """Up to ``strip_shots`` shot keyframes (evenly chosen), each ``strip_height`` pixels high, side by side."""
    limit, height = ctx.params["strip_shots"], ctx.params["strip_height"]
    if len(keyframes) > limit:
        keyframes = [keyframes[i] for i in np.linspace(0, len(keyframes) - 1, limit).round().astype(int)]
    tiles = [
        Image.fromarray(pixels).resize(
            (max(1, round(pixels.shape[1] * height / pixels.shape[0])), height), Image.Resampling.LANCZOS
        )
        for pixels in keyframes
    ]
    strip = Image.new("RGB", (sum(tile.width for tile in tiles), height))
    left = 0
    for tile in tiles:
        strip.paste(tile, (left, 0))
        left += tile.width
    out = io.BytesIO()
    strip.save(out, format="JPEG", quality=80, optimize=True)
    sha = ctx.put_blob(out.getvalue(), "image/jpeg")
    data = {"width": strip.width, "height": height, "tiles": len(tiles), "shots": len(found.shots)}
    return ArtifactOut(kind="thumbnail_strip", data=data, blob_sha256=sha)
