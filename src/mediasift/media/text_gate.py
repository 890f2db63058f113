"""Which frames between a video's keyframes to read for text, at a bounded cost.

OCR reads one keyframe per shot. Text that changes inside a shot (subtitles, a caption gone before
the shot's keyframe) is on no keyframe. Reading a frame every second in full would cost a full OCR
(detection and recognition: 0.5-1 s at 640x360 on 2 cores) per second of video; instead a cheap gate
looks at a frame every ``SAMPLE_EVERY_S`` and asks for a full read only where text-like content
comes up that no frame read nearby showed.

The gate. Frames are decoded as shot detection decodes them (a fast decode of
:class:`~mediasift.media.video.VideoSource`: no B-frames of H.264, no frames nothing refers to in
other codecs, no deblocking); each sample is shrunk to ``GATE_MAX_SIDE`` luma, upright and at display
aspect, as the keyframes show it.
Overlaid text is drawn to be read: its strokes' edges jump by ``STROKE_CONTRAST`` grey levels or
more within a pixel or two (white letters with a dark outline, a shadow or a band; dark letters on
a light panel). Those edges (a 3x3 morphological gradient) are joined along rows, and a joined patch
is text-like when it has a line's shape (8 to 80 pixels high, ``MIN_ASPECT`` times as wide) and is
dense with edges; a patch of no line's shape is split into the runs of rows dense with edges (text
on a panel, whose borders join its lines). No photo of scikit-image's (24 of them, 9 crops each, as
a pan sees them) gives a patch; nor does text too small or too faint to stand out (a scanned page at
360 lines, letters carved in stone), which the keyframes alone still read. A sample costs its decode
and a few milliseconds: 0.2-0.3 s of CPU per minute of 640x360 video, 0.8 s at 1920x1080.

The choice. A patch is known when a frame read before it shows the same strokes near the same place
(the cosine of the two edge masks, best over a shift of up to ``SHIFT`` pixels, at least
``SAME_STROKES``: one caption against itself 0.97, two subtitles at one place at most 0.54; and at
that shift at least ``LOCAL_SAME`` along the whole line, a character at a time, so a
counter or a chapter number that changes is new text): the last
frame read (a keyframe or a frame chosen here); or the sample before it, where that patch was known
(text that moves, in a pan or a crawl, is followed sample to sample); or the next keyframe, which is
read anyway, when the patch stays on screen sample after sample up to it. A sample with a patch that
is not known is read, unless ``per_minute`` samples were chosen in the 60 s before it. The choice
depends on the pixels alone, so it is the same on every run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.media.video import VideoSource

Box = tuple[int, int, int, int]  # x, y, w, h in gate pixels
Mask = npt.NDArray[np.uint8]  # 0 or 1

SAMPLE_EVERY_S = 1.0  # a caption on screen this long is on at least one sample
GATE_MAX_SIDE = 640  # samples are looked at this size (a 1080p subtitle's letters stay ~15 px high)
STROKE_CONTRAST = 150  # an edge of drawn text: the luma jumps at least this much (0-255) within 3x3 pixels
JOIN = (15, 3)  # edges this close (width, height) join into one patch: the letters of a line
MIN_HEIGHT, MAX_HEIGHT = 8, 80  # a line of text, in gate pixels
MIN_WIDTH = 40
MIN_ASPECT = 2.5  # a line is at least this many times wider than high
MIN_EDGES = 0.12  # share of a patch's pixels that are stroke edges
MIN_SOLIDITY = 0.4  # share of a patch's bounding box the joined edges fill
BAND_EDGES = 0.08  # in a patch of no line's shape, a row this dense with edges is a row of a line of text
SHIFT = (64, 16)  # gate pixels a patch may move (x, y) between two frames and still be the same strokes
SAME_STROKES = 0.75  # cosine of two patches' edge masks at the best shift: the same text at or above
# ... and all along the line, a character at a time (a stretch CHARACTER times the line's height wide
# with INK in either): the same caption against itself 0.82 or more, a changed number 0.35 at 640x360
# (tests/operators/test_ocr_video.py's counter and subtitles) and 0.50-0.65 in 14-pixel lines at 160x120
LOCAL_SAME = 0.7
CHARACTER = 0.6
INK = 0.04


@dataclass(frozen=True)
class Patch:
    """A text-like patch of a sample: its box and the edge mask of that box, bit-packed by rows (an
    hour of subtitles keeps some 3600 of them)."""

    box: Box
    packed: npt.NDArray[np.uint8]

    @classmethod
    def of(cls, edges: Mask, box: Box) -> Patch:
        x, y, w, h = box
        return cls(box, np.packbits(edges[y : y + h, x : x + w], axis=1))

    @property
    def edges(self) -> npt.NDArray[np.float32]:
        return np.unpackbits(self.packed, axis=1, count=self.box[2]).astype(np.float32)

    def same_as(self, other: Patch) -> bool:
        """Whether ``other`` shows this patch's strokes near where this shows them: the strokes of a
        line of text, moved by at most ``SHIFT`` (a pan, a scroll, coding noise)."""
        x, y, w, h = self.box
        sx, sy = SHIFT
        left, top, right, bottom = x - sx, y - sy, x + w + sx, y + h + sy  # where the strokes may have gone
        ox, oy, ow, oh = other.box
        x0, y0, x1, y1 = max(ox, left), max(oy, top), min(ox + ow, right), min(oy + oh, bottom)
        if x1 <= x0 or y1 <= y0:
            return False
        canvas = np.zeros((bottom - top, right - left), np.float32)
        canvas[y0 - top : y1 - top, x0 - left : x1 - left] = other.edges[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        template = self.edges
        if not canvas.any() or not template.any():
            return False
        scores = cv2.matchTemplate(canvas, template, cv2.TM_CCORR_NORMED)
        if float(scores.max()) < SAME_STROKES:
            return False
        dy, dx = np.unravel_index(int(scores.argmax()), scores.shape)
        return _alike_along(template, canvas[dy : dy + h, dx : dx + w], h)


def _alike_along(mine: npt.NDArray[np.float32], theirs: npt.NDArray[np.float32], height: int) -> bool:
    """Whether two lines' edge masks (aligned) are alike all along: every stretch about a character
    wide (``CHARACTER`` times the line's ``height``) with strokes in either has a cosine of
    ``LOCAL_SAME`` or more. A line whose number changed ("Line 14" to "Line 21") is alike as a whole
    (0.94) but not where the number is."""
    width = mine.shape[1]
    step = max(4, round(CHARACTER * height))
    starts = sorted({*range(0, max(1, width - step + 1), max(3, step // 2)), max(0, width - step)})
    for x in starts:
        a, b = mine[:, x : x + step], theirs[:, x : x + step]
        ink_a, ink_b = float(a.sum()), float(b.sum())  # 0/1 masks: the sums of squares
        if ink_a + ink_b < INK * a.size:
            continue
        if ink_a == 0 or ink_b == 0 or float((a * b).sum()) / math.sqrt(ink_a * ink_b) < LOCAL_SAME:
            return False
    return True


@dataclass(frozen=True)
class Sample:
    """A frame the gate looked at: the time asked for, the frame's own time, its text-like patches."""

    time: float
    frame_time: float
    patches: tuple[Patch, ...]

    def shows(self, patch: Patch) -> bool:
        """Whether this sample shows ``patch`` (of another sample)."""
        return any(patch.same_as(mine) for mine in self.patches)


@dataclass
class Gate:
    """What the gate pass found: samples every ``SAMPLE_EVERY_S``, one per keyframe time (by time),
    the stream's random-access points, and the frames it decoded."""

    samples: list[Sample] = field(default_factory=list)
    keyframes: dict[float, Sample] = field(default_factory=dict)
    sync_times: list[float] = field(default_factory=list)
    decoded: int = 0


def text_patches(luma: npt.NDArray[np.uint8]) -> tuple[Patch, ...]:
    """The text-like patches of a luma picture (gate size), top to bottom."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    edges = (cv2.morphologyEx(luma, cv2.MORPH_GRADIENT, kernel) >= STROKE_CONTRAST).astype(np.uint8)
    close = cv2.getStructuringElement(cv2.MORPH_RECT, JOIN)
    joined = np.asarray(cv2.morphologyEx(edges, cv2.MORPH_CLOSE, close), dtype=np.uint8)
    count, found, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    labels = np.asarray(found, dtype=np.int32)
    boxes: list[Box] = []
    for label, (x, y, w, h, _) in enumerate(stats[1:count].tolist(), start=1):
        if _line_like(edges, joined, (x, y, w, h)):
            boxes.append((x, y, w, h))
        elif h > MIN_HEIGHT and w >= MIN_WIDTH:
            boxes += [box for box in _bands(edges, labels, label, (x, y, w, h)) if _line_like(edges, joined, box)]
    return tuple(Patch.of(edges, box) for box in sorted(boxes, key=lambda box: (box[1], box[0])))


def _line_like(edges: Mask, joined: Mask, box: Box) -> bool:
    """A line's shape, filled by the joined edges and dense with edges."""
    x, y, w, h = box
    if not (MIN_HEIGHT <= h <= MAX_HEIGHT and w >= max(MIN_WIDTH, MIN_ASPECT * h)):
        return False
    return bool(joined[y : y + h, x : x + w].mean() >= MIN_SOLIDITY and edges[y : y + h, x : x + w].mean() >= MIN_EDGES)


def _bands(edges: Mask, labels: npt.NDArray[np.int32], label: int, box: Box) -> list[Box]:
    """Text in a box (dark letters on a light panel, a sign): the panel's own edges join its lines
    into one patch of no line's shape. Its lines are the runs of rows dense with edges, each as wide
    as its edges reach."""
    x, y, w, h = box
    mine = edges[y : y + h, x : x + w] * (labels[y : y + h, x : x + w] == label)
    dense = np.concatenate([[False], mine.mean(axis=1) >= BAND_EDGES, [False]])
    changes = np.flatnonzero(np.diff(dense.astype(np.int8)))
    bands = []
    for top, bottom in zip(changes[::2].tolist(), changes[1::2].tolist(), strict=True):
        columns = np.flatnonzero(mine[top:bottom].any(axis=0))
        left, right = int(columns[0]), int(columns[-1]) + 1
        bands.append((x + left, y + top, right - left, bottom - top))
    return bands


# ------------------------------------------------------------------------------ the gate pass


def scan(path: Path, keyframe_times: Sequence[float]) -> Gate:
    """Decode the video once, cheaply, and look at a frame every ``SAMPLE_EVERY_S`` and at each
    keyframe time: the first decoded frame from that time on, as the keyframes operator takes it.
    Raises :class:`~mediasift.media.video.NoVideoFrames`."""
    gate = Gate()
    with VideoSource(path, deblock=False) as video:
        half = 0.5 / video.info.fps
        tick, keyframes = 0.0, deque(sorted(set(keyframe_times)))
        for seconds, frame in video.frames():
            due = []
            while keyframes and keyframes[0] - half <= seconds:
                due.append(keyframes.popleft())
            if seconds < tick - half and not due:
                continue
            patches = text_patches(video.picture(frame, GATE_MAX_SIDE, grey=True))
            if seconds >= tick - half:  # a frame after a gap stands for every tick it passed; the first counts
                gate.samples.append(Sample(round(tick, 3), round(seconds, 3), patches))
                tick += (math.floor((seconds + half - tick) / SAMPLE_EVERY_S) + 1) * SAMPLE_EVERY_S
            for time in due:
                gate.keyframes[time] = Sample(time, round(seconds, 3), patches)
        gate.sync_times, gate.decoded = video.sync_times, video.decoded
    return gate


# ------------------------------------------------------------------------------ the choice


@dataclass
class Choice:
    """The samples to read in full, in time order, and how many more the budget turned away."""

    chosen: list[Sample] = field(default_factory=list)
    refused: int = 0


def choose(gate: Gate, per_minute: int) -> Choice:
    """The samples to read in full: those with a text-like patch that is not known, at most
    ``per_minute`` in any 60 s. A patch is known when the last frame read before it shows it, when
    the sample before showed it known (text that moves, a pan, is followed sample to sample), or when
    it stays on screen up to the next keyframe, which shows it."""
    keyframes = [gate.keyframes[time] for time in sorted(gate.keyframes)]
    covered = _covered_by_next_keyframe(gate.samples, keyframes)
    choice = Choice()
    recent: deque[float] = deque()  # times of the choices in the last 60 s
    last: Sample | None = None  # the last frame read: a keyframe or a choice
    before: list[Patch] = []  # the known patches of the sample before
    passed = 0  # keyframes at or before the sample
    for sample, ahead in zip(gate.samples, covered, strict=True):
        while passed < len(keyframes) and keyframes[passed].frame_time <= sample.frame_time:
            last = keyframes[passed]
            passed += 1
        known = [
            shown or (last is not None and last.shows(patch)) or any(patch.same_as(other) for other in before)
            for patch, shown in zip(sample.patches, ahead, strict=True)
        ]
        before = [patch for patch, seen in zip(sample.patches, known, strict=True) if seen]
        if all(known):
            continue
        while recent and recent[0] <= sample.time - 60.0:
            recent.popleft()
        if len(recent) >= per_minute:
            choice.refused += 1
            continue
        recent.append(sample.time)
        choice.chosen.append(sample)
        last, before = sample, list(sample.patches)
    return choice


def _covered_by_next_keyframe(samples: list[Sample], keyframes: list[Sample]) -> list[list[bool]]:
    """Per sample and patch: whether the patch stays on screen, sample after sample, up to the next
    keyframe, which shows it (and is read anyway)."""
    covered: list[list[bool]] = [[] for _ in samples]
    upcoming: Sample | None = None
    after: Sample | None = None  # the sample after this one, when it is before ``upcoming``
    ahead = len(keyframes)  # keyframes from this index on are at or after the sample
    for index in range(len(samples) - 1, -1, -1):
        sample = samples[index]
        while ahead > 0 and keyframes[ahead - 1].frame_time >= sample.frame_time:
            ahead -= 1
            upcoming, after = keyframes[ahead], None
        kept = (
            [] if after is None else [other for other, on in zip(after.patches, covered[index + 1], strict=True) if on]
        )
        covered[index] = [
            upcoming is not None
            and upcoming.shows(patch)
            and (after is None or any(patch.same_as(other) for other in kept))
            for patch in sample.patches
        ]
        after = sample
    return covered


# ------------------------------------------------------------------------------ reading the choices

READ_RUN = 8  # chosen frames decoded per pass over the file: a long video's choices are never all in memory


def pictures(
    path: Path, samples: Sequence[Sample], sync_times: Sequence[float], max_side: int
) -> Iterator[tuple[Sample, npt.NDArray[np.uint8]]]:
    """Each chosen sample's frame, in time order: RGB, upright, at display aspect, at most
    ``max_side`` (the keyframes' size, so boxes read on either are in the same pixels). A frame that
    does not decode is left out."""
    with VideoSource(path) as video:
        for start in range(0, len(samples), READ_RUN):
            run = samples[start : start + READ_RUN]
            times = [sample.frame_time for sample in run]
            found = dict(video.frames_at(times, exact=False, sync_times=sync_times, max_side=max_side))
            for sample in run:
                if sample.frame_time in found:
                    yield sample, found[sample.frame_time]
