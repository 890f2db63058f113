"""When a line of text read on a video's keyframes is on screen: from the first frame that shows it to
the first that no longer does, rather than the bounds of the shots whose keyframes showed it.

Here "keyframes" are all the frames OCR read: the shots' keyframes and the frames between them that
the gate of :mod:`mediasift.media.text_gate` picked, where text came up that none of those showed.
A line is seen on a run of keyframes (the caller joins the reads of one line in consecutive
keyframes into a run: a :class:`Sighting`). Its start lies
between the keyframe before the run, which did not show it (the video's start when there is none), and
the run's first keyframe; its end between the run's last keyframe and the next keyframe (the video's
end). These windows reach into the neighbouring shots: a caption that comes up late in one shot and
stays into the next is seen only by the second shot's keyframe, and starts in the first shot.

In each window every frame a fast decode gives is looked at, at the line's box only: the frames
:class:`~mediasift.media.video.VideoSource` skips when fast (B-frames of H.264, frames nothing refers
to in other codecs, as shot detection skips them) are not decoded, the box is cut out of the frame's
planes before
any colour conversion, and the change of its luma since the frame before is noted. Whether the line
is in a frame is decided by reading the box with the OCR recogniser alone and comparing the text (the
caller's ``looks``): tens of milliseconds a crop, so it is done as few times as it can be. The search
starts at the keyframe that showed the line: the frames either side of the sharpest change of the box
nearest that keyframe are read, so a caption that pops on or off is placed with two reads; otherwise
the window's far end is read, then the window is bisected. When no read showed the line, the
keyframe's own frame is read last, as a check: if its box does not give the line either, the box
cannot be read in the frames and the edge keeps its shot bound. The search assumes the line changes
once per window, as the keyframes either side suggest: a line that leaves and comes back within one
window is timed from one of its changes, not always the nearest.

Precision: with those frames skipped the frames looked at are up to 4 frames apart (0.16 s at 25 fps). An
edge is put on the later of the two frames it fell between when that is a key frame (an encoder puts
one where the picture changes: a caption that changes with a cut lands on the cut's frame), else
midway. Past ``MAX_SAMPLES`` frames in a window (about 50 s of H.264 at 25 fps) every other one is
dropped, which halves that precision.

The box is where the keyframe saw the line. Text that moves (a crawl, a sign in a panning shot)
leaves it: when what the box reads at an edge is a piece of the line from one of its ends, the line
was cut off, not gone, and that edge keeps the shot bound (``Seen.CUT``). Text moving across the
box's height, or too far to leave a piece, is not recognised as such: its range comes out short.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, cast

import av.error
import cv2
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame

from mediasift.media.video import NoVideoFrames, VideoSource, merge_windows

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x, y, w, h
Rgb = npt.NDArray[np.uint8]


class Seen(Enum):
    """What reading a sighting's box in a frame gave."""

    SHOWN = "shown"  # the line
    GONE = "gone"  # something else, or nothing
    CUT = "cut"  # a piece of the line from one of its ends: the line moved, the box cuts it off


# (sighting index, RGB crop of its box) for each crop -> what reading it gave
Looks = Callable[[list[tuple[int, Rgb]]], list[Seen]]

MAX_SAMPLES = 512  # frames a window keeps; past it, every other one is dropped
SPIKE_MIN = 6.0  # a sharp change of the box: a mean absolute luma change of at least this (0-255) ...
SPIKE_RATIO = 4.0  # ... and this many times the window's median change ...
SPIKE_SHARE = 0.5  # ... and this share of its largest (the steps of a fade are no sharp changes)
SPIKE_TRIES = 2  # sharp changes tried per edge before bisecting
JPEG_QUALITY = 95  # the kept crops are stored as JPEG: a window's worth costs a few MB, not tens
I420 = frozenset({"yuv420p", "yuvj420p"})  # pixel formats cut from their planes; others are converted whole


@dataclass(frozen=True)
class Sighting:
    """A line read at ``box`` (keyframe pixels) on the keyframes ``keys``."""

    box: Box
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Span:
    """Where a line is visible, in seconds; None where that could not be told (keep the shot bound)."""

    start: float | None
    end: float | None


@dataclass
class Timing:
    """The spans, one per sighting, and what finding them took."""

    spans: list[Span]
    frames: int = 0  # frames decoded
    reads: int = 0  # crops read by the recogniser


def visible_spans(
    path: Path,
    sightings: Sequence[Sighting],
    keyframe_times: dict[str, float],
    video_end: float,
    keyframe_size: tuple[int, int],
    looks: Looks,
) -> Timing:
    """The visible span of each sighting. ``keyframe_times`` holds every keyframe of the video (key ->
    seconds); ``keyframe_size`` is their (width, height) as :class:`~mediasift.media.video.VideoSource`
    shows a frame (upright, at display aspect), the pixels the boxes are in. A file that cannot be
    decoded gives no span (every edge keeps its shot bound)."""
    ordered = sorted(keyframe_times.values())
    edges: list[_Edge] = []
    for index, sighting in enumerate(sightings):
        seen = sorted(keyframe_times[key] for key in sighting.keys if key in keyframe_times)
        if not seen or sighting.box[2] <= 0 or sighting.box[3] <= 0:
            continue
        before = [t for t in ordered if t < seen[0]]
        after = [t for t in ordered if t > seen[-1]]
        edges.append(_Edge(index, sighting.box, True, before[-1] if before else 0.0, seen[0]))
        edges.append(_Edge(index, sighting.box, False, seen[-1], after[0] if after else video_end))
    timing = Timing([Span(None, None)] * len(sightings))
    if not edges:
        return timing
    try:
        _scan(path, edges, keyframe_size, looks, timing)
    except (NoVideoFrames, av.error.FFmpegError) as exc:
        log.warning("text timing skipped, %s does not decode: %s", path.name, exc)
        return Timing([Span(None, None)] * len(sightings))
    found: dict[int, dict[bool, float | None]] = {}
    for edge in edges:
        found.setdefault(edge.sighting, {})[edge.is_start] = edge.time
    timing.spans = [
        Span(found[i][True], found[i][False]) if i in found else Span(None, None) for i in range(len(sightings))
    ]
    return timing


# ------------------------------------------------------------------------------ the frames of a window


@dataclass
class _Sample:
    time: float
    jpeg: bytes
    change: float  # mean absolute luma change of the box since the sample before (0-255)
    key: bool  # a key frame: the encoder puts one where the picture changes


@dataclass(eq=False)
class _Edge:
    """A window in which one edge of a sighting lies: its start (the line is there at ``hi``) or its
    end (there at ``lo``)."""

    sighting: int
    box: Box
    is_start: bool
    lo: float
    hi: float
    samples: list[_Sample] = field(default_factory=list)
    luma: npt.NDArray[np.float32] | None = None
    time: float | None = None  # the edge, once found

    def add(self, seconds: float, key: bool, crop: Rgb, luma: npt.NDArray[np.float32]) -> None:
        before = self.luma
        same_size = before is not None and before.shape == luma.shape  # (a stream may change size)
        change = float(np.abs(luma - before).mean()) if before is not None and same_size else 0.0
        self.luma = luma
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise ValueError("a crop did not encode")
        self.samples.append(_Sample(seconds, jpeg.tobytes(), change, key))
        if len(self.samples) > MAX_SAMPLES:
            self._thin()

    def _thin(self) -> None:
        """Drop every other sample (never the first or the last), folding its change into the next kept one."""
        kept: list[_Sample] = []
        dropped = 0.0
        for index, sample in enumerate(self.samples):
            if index % 2:
                dropped = sample.change
                continue
            kept.append(_Sample(sample.time, sample.jpeg, max(sample.change, dropped), sample.key))
            dropped = 0.0
        self.samples = kept


class _Cutter:
    """Cuts boxes given in keyframe pixels out of decoded frames: RGB at keyframe scale, upright, and
    the box's luma at frame scale (every other pixel) to measure change. ``rotation`` is the clockwise
    degrees the keyframes were turned by; the frame's width and height are scaled apart, so a frame
    stretched to its display aspect in the keyframes is cut right too."""

    def __init__(self, keyframe_size: tuple[int, int], rotation: int) -> None:
        self.turns = (rotation // 90) % 4
        width, height = keyframe_size
        self.size = (width, height) if self.turns % 2 == 0 else (height, width)  # before turning upright
        self.keyframe_size = keyframe_size

    def cut(self, frame: VideoFrame, box: Box, whole: dict[str, Rgb]) -> tuple[Rgb, npt.NDArray[np.float32]] | None:
        """``whole`` caches the frame converted to RGB, for pixel formats not cut from their planes."""
        x, y, w, h = _unturned(box, self.keyframe_size, self.turns)
        sx, sy = frame.width / self.size[0], frame.height / self.size[1]
        planar = frame.format.name in I420
        align = 2 if planar else 1  # chroma is subsampled 2x2: cut at even pixels
        left, top = _floor_to(x * sx, align), _floor_to(y * sy, align)
        right = min(_ceil_to((x + w) * sx, align), _floor_to(frame.width, align))
        bottom = min(_ceil_to((y + h) * sy, align), _floor_to(frame.height, align))
        if right - left < align or bottom - top < align:
            return None
        if planar:
            luma = _plane(frame, 0)[top:bottom, left:right]
            chroma = [_plane(frame, i)[top // 2 : bottom // 2, left // 2 : right // 2] for i in (1, 2)]
            i420 = np.concatenate([luma.ravel(), *(c.ravel() for c in chroma)]).reshape(-1, right - left)
            crop = np.asarray(cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420), dtype=np.uint8)
        else:
            if "rgb" not in whole:
                whole["rgb"] = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            crop = np.ascontiguousarray(whole["rgb"][top:bottom, left:right])
            luma = np.asarray(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
        if sx == 1 and sy == 1 and bottom - top >= y - top + h and right - left >= x - left + w:
            crop = np.ascontiguousarray(crop[y - top : y - top + h, x - left : x - left + w])  # no resampling
        else:
            scaling = cv2.INTER_AREA if sx >= 1 else cv2.INTER_LINEAR
            crop = np.asarray(cv2.resize(crop, (w, h), interpolation=scaling), dtype=np.uint8)
        if self.turns:
            crop = np.ascontiguousarray(np.rot90(crop, k=-self.turns))
        return crop, luma[::2, ::2].astype(np.float32)


def _unturned(box: Box, size: tuple[int, int], turns: int) -> Box:
    """``box`` of a picture of ``size`` (width, height) that was turned ``turns`` quarter turns
    clockwise, in the picture as it was before turning."""
    x, y, w, h = box
    width, height = size
    for _ in range(turns):  # undo one clockwise quarter turn: a column of the turned picture was a row
        x, y, w, h = y, width - x - w, h, w
        width, height = height, width
    return x, y, w, h


def _floor_to(value: float, step: int) -> int:
    return max(0, math.floor(value) // step * step)


def _ceil_to(value: float, step: int) -> int:
    return -(-math.ceil(value) // step) * step


def _plane(frame: VideoFrame, index: int) -> npt.NDArray[np.uint8]:
    plane = frame.planes[index]
    return np.frombuffer(cast(Any, plane), np.uint8).reshape(plane.height, plane.line_size)


# ------------------------------------------------------------------------------ decoding


def _scan(path: Path, edges: list[_Edge], keyframe_size: tuple[int, int], looks: Looks, timing: Timing) -> None:
    """Decode the frames of every window once, in time order, feeding each edge its frames; an edge
    is searched as soon as its window is over (edges whose windows end together, together)."""
    memo: dict[tuple[int, float], Seen] = {}
    # Without the loop filter (deblocking), as the gate's pass decodes: the windows' decode cost 13%
    # less CPU on bench/pipeline.py's video (2.26-2.52 -> 1.96-2.17 s), and eval/ocr_video.py's
    # lines and their times came out the same.
    with VideoSource(path, deblock=False) as video:
        fps = video.info.fps
        slack = 0.5 / fps
        waiting = sorted(edges, key=lambda edge: (edge.lo, edge.hi))
        active: list[_Edge] = []
        windows = merge_windows([(edge.lo - slack, edge.hi + slack) for edge in edges])
        cutter: _Cutter | None = None
        for _, seconds, frame in video.window_frames(windows):  # apart: each frame in one window
            cutter = cutter or _Cutter(keyframe_size, video.rotation)  # known from the first frame on
            timing.frames += 1
            over = [edge for edge in active if seconds > edge.hi + slack]
            while waiting and waiting[0].lo - slack <= seconds:
                edge = waiting.pop(0)
                (over if seconds > edge.hi + slack else active).append(edge)
            if over:
                active = [edge for edge in active if edge not in over]
                _search(over, fps, looks, memo, timing)
            crops: dict[int, tuple[Rgb, npt.NDArray[np.float32]] | None] = {}
            whole: dict[str, Rgb] = {}
            for edge in active:
                if edge.sighting not in crops:
                    crops[edge.sighting] = cutter.cut(frame, edge.box, whole)
                cut = crops[edge.sighting]
                if cut is not None:
                    edge.add(seconds, frame.key_frame, *cut)
        _search(active + waiting, fps, looks, memo, timing)


# ------------------------------------------------------------------------------ the search


class _Search:
    """The search for one edge over its window's samples, seen from the keyframe that showed the line:
    position 0 is the sample farthest from it, the last is the keyframe's. ``present`` is the nearest
    position to 0 known to show the line with every position after it, ``absent`` the one before it
    known not to (-1: none yet); the edge lies between them once they are neighbours.

    The keyframe's own sample is taken to show the line until the search ends there: it is read only
    then (``checked``), as any read that shows the line elsewhere proves the box reads well."""

    def __init__(self, edge: _Edge, fps: float) -> None:
        self.edge, self.fps = edge, fps
        self.order = edge.samples if edge.is_start else edge.samples[::-1]
        self.absent, self.present = -1, len(self.order) - 1
        self.absent_seen = Seen.GONE
        self.checked = False
        self.failed = not self.order
        changes = [sample.change for sample in edge.samples[1:]]
        self.spike = (
            max(SPIKE_MIN, SPIKE_RATIO * float(np.median(changes)), SPIKE_SHARE * max(changes)) if changes else math.inf
        )
        self.tries = 0

    @property
    def done(self) -> bool:
        return self.failed or (self.checked and self.present - self.absent <= 1)

    def change(self, position: int) -> float:
        """The change between positions ``position - 1`` and ``position``."""
        if self.edge.is_start:
            return self.order[position].change
        return self.order[position - 1].change

    def wanted(self) -> list[int]:
        """The positions to read next: where the box changes sharply nearest the keyframe, either side;
        else the far end, then the middle; and last, where nothing else showed the line, the keyframe's."""
        if self.present - self.absent <= 1:
            return [self.present]
        for position in range(self.present, max(self.absent, 0), -1):
            if self.tries < SPIKE_TRIES and self.change(position) >= self.spike:
                self.tries += 1
                return [p for p in (position - 1, position) if self.absent < p < self.present]
        return [0 if self.absent < 0 else (self.absent + self.present) // 2]

    def update(self, seen: dict[int, Seen]) -> None:
        for position in sorted((p for p in seen if self.absent < p <= self.present), reverse=True):
            if position == self.present:  # the keyframe's own sample, read last
                self.checked = seen[position] is Seen.SHOWN
                self.failed = not self.checked  # the box read on the keyframe's frame does not give the line
            elif seen[position] is Seen.SHOWN:
                self.present, self.checked = position, True
            else:
                self.absent, self.absent_seen = position, seen[position]
                break

    def result(self) -> float | None:
        if self.failed or self.absent_seen is Seen.CUT:  # a line that moves out of its box is still on screen
            return None
        if self.absent < 0:  # there since the window's far end
            return self.edge.lo if self.edge.is_start else self.edge.hi
        earlier, later = sorted((self.order[self.absent], self.order[self.present]), key=lambda sample: sample.time)
        if later.key:  # the encoder saw the picture change there (x264 puts a key frame on a scene change)
            return round(later.time, 3)
        return round(min(later.time, (earlier.time + 1 / self.fps + later.time) / 2), 3)


def _search(edges: list[_Edge], fps: float, looks: Looks, memo: dict[tuple[int, float], Seen], timing: Timing) -> None:
    """Find the edges, reading the crops each round asks for across all of them in one call; frees
    their samples. ``memo`` holds what was read, by sighting and time (a run of one keyframe may ask
    for the same frame for both its edges)."""
    searches = [_Search(edge, fps) for edge in edges]
    while active := [search for search in searches if not search.done]:
        asked = {search: search.wanted() for search in active}
        unread: dict[tuple[int, float], bytes] = {}
        for search, positions in asked.items():
            for position in positions:
                sample = search.order[position]
                key = (search.edge.sighting, sample.time)
                if key not in memo:
                    unread[key] = sample.jpeg
        if unread:
            crops = [(key[0], _decoded_jpeg(jpeg)) for key, jpeg in unread.items()]
            memo.update(zip(unread, looks(crops), strict=True))
            timing.reads += len(crops)
        for search, positions in asked.items():
            search.update({p: memo[(search.edge.sighting, search.order[p].time)] for p in positions})
    for search in searches:
        search.edge.time = search.result()
        search.edge.samples, search.edge.luma = [], None


def _decoded_jpeg(jpeg: bytes) -> Rgb:
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("a stored crop did not decode")
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
