"""Text drawn in images and keyframes, with boxes and confidence: rapidocr, or tesseract when rapidocr
fails or is too slow (the fallback chain of :mod:`mediasift.inference.ocr`). Which engine read a picture
is kept in its data (``engine``).

An image gives one segment holding all its lines. A video is read on its keyframes and, where a
cheap gate sees text-like content come up that no frame read nearby showed (a subtitle that changes
inside a shot, a caption gone before the shot's keyframe), on frames between them, at most
``ocr_extra_frames_per_minute`` (:mod:`mediasift.media.text_gate`). A caption or lower third stays
on screen across several of the frames read; rather than repeat it per frame, a line read again in
the next frame read extends the same text run, and each run becomes one segment. Its time range is
where the line is visible, found by following its box in the frames around the frames read
(:mod:`mediasift.media.text_tracking`): compared by its pixels with the box as read
(:mod:`mediasift.media.box_match`), read again by the recogniser only where those cannot tell. The
range of the shots whose frames showed it is kept as ``seen_in``, and ``timing`` says per bound
whether it was found in the frames or is the shots'. A line that tesseract read (the fallback, when
rapidocr failed) keeps the shots' range: the frames are read with rapidocr's recogniser, which was
just found wanting. Every line is stored with its confidence; lines under ``min_confidence`` are not
searchable. A run's data names the frames read that showed it (``frames``: keyframe keys, and
``at<seconds>`` for frames between keyframes)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import Any

import av.error
import cv2
import numpy as np

from mediasift.config import Settings
from mediasift.inference.catalog import Role
from mediasift.inference.door import OcrChain
from mediasift.inference.ocr import Reading
from mediasift.media import box_match, text_gate
from mediasift.media.text_tracking import Seen, Sighting, Span, visible_spans
from mediasift.media.video import NoVideoFrames
from mediasift.mediatype import MediaType
from mediasift.models.ocr import OcrLine
from mediasift.operators.images import KEYFRAMES, ImageItem, ImageOperator, iter_images
from mediasift.pipeline.operator import TEXT, OperatorContext
from mediasift.records import ArtifactOut, OperatorResult, SegmentOut

log = logging.getLogger(__name__)

# Two reads of one caption in different frames differ by a character or two (a letter misread over a
# changing background, a dropped space); distinct captions rarely share 80 % of their characters.
SAME_TEXT_RATIO = 0.8
# A read that is one piece of a line from one of its ends, this long at least, is the line cut off.
CUT_SHARE = 0.4
# Reads of one line's box (both its edges) by the recogniser while timing it, where the box's pixels
# cannot tell. A caption that pops on or off over a moving picture settles with two reads an edge;
# text that moves with the picture (a printed page in a panning shot) may never settle: it took most
# of the 116 line reads of bench/pipeline.py's 4-minute video (0.08 s each; 88 with this budget).
# Past the budget the line is taken to move with the picture: its undecided edges keep the shots'
# bounds, as a cut-off line does. eval/ocr_video.py's ranges are the same with it as without.
TRACK_READS_PER_LINE = 6


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form: OCR drops or adds spaces between frames."""
    return "".join(text.casefold().split())


def similarity(a: str, b: str) -> float:
    """How alike two normalised reads are (0-1); 0 when both hold numbers and the numbers differ: a
    counter, a score, a clock or a price that changed is other text, however alike the rest ("Line 7
    capacity report" and "Line 14 capacity report" were one line on screen for the whole video). Only
    when both hold some: a read that took an O for a 0 ("CL0SED") is still the same line."""
    if a == b:
        return 1.0
    if _other_numbers(a, b):
        return 0.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


_NUMBERS = re.compile(r"\d+")


def _other_numbers(a: str, b: str) -> bool:
    numbers_a, numbers_b = _NUMBERS.findall(a), _NUMBERS.findall(b)
    return bool(numbers_a and numbers_b and numbers_a != numbers_b)


def seen(read: str, line: str) -> Seen:
    """What a box that showed ``line`` shows now, by what it reads (both normalised): the line; or a
    piece of it from one of its ends, most of what was read, so the line moved and the box cuts it
    (a sign in a panning shot); or something else."""
    if _other_numbers(read, line):  # "platform 14" where "platform 7" was: not a piece of it, another line
        return Seen.GONE
    if similarity(read, line) >= SAME_TEXT_RATIO:
        return Seen.SHOWN
    match = SequenceMatcher(None, read, line, autojunk=False).find_longest_match(0, len(read), 0, len(line))
    at_an_end = match.b == 0 or match.b + match.size == len(line)
    if at_an_end and match.size >= max(3, CUT_SHARE * len(line)) and match.size >= SAME_TEXT_RATIO * len(read):
        return Seen.CUT
    return Seen.GONE


# A line is searchable text with at least this many letters or digits: a lone "0" or "T" read off a
# texture (a cat's fur, a horse's flank) matched "EXIT 42" and "Tromsø"; it is still stored.
MIN_SEARCHABLE_CHARS = 2


def searchable(line: OcrLine, floor: float) -> bool:
    """Whether a read line is searchable text: read at ``floor`` or above, and more than a character."""
    return line.confidence >= floor and sum(char.isalnum() for char in line.text) >= MIN_SEARCHABLE_CHARS


def read_words(ctx: OperatorContext, pixels: np.ndarray, chain: OcrChain | None) -> Reading:
    """The lines read in a picture that hold a letter or a digit. A line of none (a bullet, a rule read
    as dashes) says nothing, and the detector finds such lines where there is no text at all: a white
    square on a plain frame read as one "•" whose box was the whole frame."""
    reading = ctx.inference.read_text(pixels, chain)
    return replace(reading, lines=[line for line in reading.lines if any(char.isalnum() for char in line.text)])


def line_data(line: OcrLine) -> dict[str, Any]:
    return {"text": line.text, "confidence": round(line.confidence, 4), "box": list(line.box)}


@dataclass(frozen=True)
class Frame:
    """A picture of a video that was read: a keyframe, or a frame between keyframes. ``start`` and
    ``end`` are its shot's; ``time`` is the frame's own, where known."""

    key: str
    start: float | None
    end: float | None
    time: float | None


@dataclass(eq=False)  # runs are told apart by identity: two runs may hold equal values
class TextRun:
    """One line of text seen in consecutive frames read; ``best`` is its most confident read."""

    start: float | None
    end: float | None
    best: OcrLine
    best_key: str
    keys: list[str]  # every frame read that the run spans

    @property
    def normalised(self) -> str:
        return normalise(self.best.text)

    def extend(self, frame: Frame, line: OcrLine) -> None:
        self.end = frame.end
        self.keys.append(frame.key)
        if line.confidence > self.best.confidence:
            self.best, self.best_key = line, frame.key


def merge_runs(frames: Iterable[tuple[Frame, list[OcrLine]]]) -> list[TextRun]:
    """Text runs over frames given in time order, ordered by start, then top to bottom.

    Each line of a frame extends the run of the previous frame whose normalised text is most similar
    to it, if that similarity is ``SAME_TEXT_RATIO`` or more; a run takes at most one line per frame,
    and a run not extended by a frame is closed, so text that leaves the screen and comes back later
    is two runs.
    """
    closed: list[TextRun] = []
    open_runs: list[TextRun] = []
    for frame, lines in frames:
        extended: list[TextRun] = []
        for line in lines:
            text = normalise(line.text)
            scored = [(similarity(run.normalised, text), run) for run in open_runs]
            ratio, match = max(scored, key=lambda pair: pair[0], default=(0.0, None))
            if match is not None and ratio >= SAME_TEXT_RATIO:
                open_runs.remove(match)
                match.extend(frame, line)
                run = match
            else:
                run = TextRun(frame.start, frame.end, line, frame.key, [frame.key])
            extended.append(run)
        closed.extend(open_runs)
        open_runs = extended
    closed.extend(open_runs)
    return sorted(closed, key=lambda run: (run.start or 0.0, run.best.box[1], run.best.box[0]))


@dataclass
class VideoReads:
    """What was read of a video: each frame read with its lines, in time order, and per frame key the
    engine that read it, the picture's (width, height) and the frame's time where known."""

    frames: list[tuple[Frame, list[OcrLine]]] = field(default_factory=list)
    engines: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    boxes: dict[tuple[str, tuple[int, int, int, int]], np.ndarray] = field(default_factory=dict)  # each line's box

    def add(self, frame: Frame, engine: str, lines: list[OcrLine], pixels: np.ndarray) -> None:
        self.frames.append((frame, lines))
        self.engines[frame.key] = engine
        self.sizes[frame.key] = (pixels.shape[1], pixels.shape[0])
        if frame.time is not None:
            self.times[frame.key] = frame.time
        for line in lines:
            x, y, w, h = line.box
            self.boxes[(frame.key, line.box)] = pixels[y : y + h, x : x + w].copy()


class Ocr(ImageOperator):
    """``chain`` replaces the inference layer's own OCR chain (a test points its primary at
    broken model files, for one)."""

    name = "ocr"
    # 13: the text gate reads a line that changed in part (a counter, a chapter number: LOCAL_SAME);
    # 12: lines without a letter or a digit are dropped (read_words);
    # 11: the gate's detector is PP-OCRv6 tiny (models/ocr.py GATE_MODEL_PARTS); lines are timed on
    # frames decoded without deblocking
    version = "13"
    produces = frozenset({TEXT})
    role = Role.OCR_CHAIN

    def __init__(self, chain: OcrChain | None = None) -> None:
        self.chain = chain

    def params(self, settings: Settings) -> dict[str, Any]:
        return {
            "min_confidence": settings.ocr_min_confidence,
            "extra_frames_per_minute": settings.ocr_extra_frames_per_minute,
        }

    def run(self, ctx: OperatorContext) -> OperatorResult:
        floor = ctx.params["min_confidence"]
        if ctx.asset.media_type is MediaType.VIDEO:
            reads = read_video(ctx, self.chain)
            runs = merge_runs(reads.frames)
            spans = time_runs(ctx, runs, reads)
            return self._video(runs, spans, reads, floor)
        engines: dict[str, str] = {}

        def pictures() -> Iterator[tuple[ImageItem, list[OcrLine]]]:
            for item in iter_images(ctx):
                reading = read_words(ctx, item.pixels, self.chain)
                engines[item.key] = reading.engine
                yield item, reading.lines

        return self._image(pictures(), engines, floor)

    @staticmethod
    def _image(
        frames: Iterable[tuple[ImageItem, list[OcrLine]]], engines: dict[str, str], floor: float
    ) -> OperatorResult:
        result = OperatorResult()
        for item, lines in frames:
            if not lines:
                continue
            kept = [line for line in lines if searchable(line, floor)]
            # The searchable lines' mean; with none searchable, the best line's, which is under the floor.
            confidence = (
                sum(line.confidence for line in kept) / len(kept) if kept else max(line.confidence for line in lines)
            )
            data = {"lines": [line_data(line) for line in lines], "engine": engines[item.key]}
            result.segments.append(
                SegmentOut(kind="ocr", key=item.key, start=item.start, end=item.end,
                           text="\n".join(line.text for line in kept) or None, confidence=confidence, data=data)
            )  # fmt: skip
            result.artifacts.append(
                ArtifactOut(kind="ocr", key=item.key, data=data, confidence=confidence, segment_key=item.key)
            )
        return result

    @staticmethod
    def _video(runs: list[TextRun], spans: list[Span], reads: VideoReads, floor: float) -> OperatorResult:
        """One segment per run, in the order they come on screen, then top to bottom."""
        result = OperatorResult()
        bounds = [
            (run.start if span.start is None else span.start, run.end if span.end is None else span.end)
            for run, span in zip(runs, spans, strict=True)
        ]
        order = sorted(range(len(runs)), key=lambda i: (bounds[i][0] or 0.0, runs[i].best.box[1], runs[i].best.box[0]))
        for index, position in enumerate(order):
            run, span, (start, end) = runs[position], spans[position], bounds[position]
            key = f"text{index:05d}"
            best = run.best
            data = {
                "lines": [line_data(best)],
                "start": start,
                "end": end,
                "seen_in": [run.start, run.end],  # the shots whose frames read showed it
                # how each bound was found: in the frames, or the shots' bound kept
                "timing": {"start": "shots" if span.start is None else "frames",
                           "end": "shots" if span.end is None else "frames"},
                "frame": run.best_key,  # the frame read that the box is in: a keyframe, or "at<seconds>"
                "frame_time": reads.times.get(run.best_key),
                "frames": run.keys,
                "engine": reads.engines[run.best_key],  # the engine that read that frame
            }  # fmt: skip
            result.segments.append(
                SegmentOut(kind="ocr", key=key, start=start, end=end,
                           text=best.text if searchable(best, floor) else None, confidence=best.confidence,
                           data=data)
            )  # fmt: skip
            result.artifacts.append(
                ArtifactOut(kind="ocr", key=key, data=data, confidence=best.confidence, segment_key=key)
            )
        return result


def read_video(ctx: OperatorContext, chain: OcrChain | None) -> VideoReads:
    """Read a video's keyframes, then the frames between them that the gate picks
    (:mod:`mediasift.media.text_gate`), in the keyframes' size. The chain's counters get the
    gate's samples (``gate_samples``), the frames it had read (``extra_frames``) and the samples the
    budget turned away (``extra_frames_refused``)."""
    reads = VideoReads()
    times = {
        seg.key: float(seg.data["time"])
        for seg in ctx.segments(operator=KEYFRAMES, kind="keyframe")
        if "time" in seg.data
    }
    for item in iter_images(ctx):
        reading = read_words(ctx, item.pixels, chain)
        frame = Frame(item.key, item.start, item.end, times.get(item.key))
        reads.add(frame, reading.engine, reading.lines, item.pixels)
    per_minute = int(ctx.params["extra_frames_per_minute"])
    if per_minute <= 0 or not reads.frames:
        return reads
    try:
        gate = text_gate.scan(ctx.media_path, sorted(times.values()))
    except (NoVideoFrames, av.error.FFmpegError) as exc:
        log.warning("no frames between keyframes read for text, %s does not decode: %s", ctx.media_path.name, exc)
        return reads
    choice = text_gate.choose(gate, per_minute)
    size = next(iter(reads.sizes.values()))
    shots = [(seg.start, seg.end) for seg in ctx.segments(operator=KEYFRAMES, kind="shot")]
    extra = 0
    for sample, pixels in text_gate.pictures(ctx.media_path, choice.chosen, gate.sync_times, max(size)):
        if (pixels.shape[1], pixels.shape[0]) != size:  # the keyframes' pixels, which the boxes are in
            pixels = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        start, end = _shot_of(shots, sample.frame_time)
        reading = read_words(ctx, pixels, chain)
        frame = Frame(f"at{sample.frame_time:.3f}", start, end, sample.frame_time)
        reads.add(frame, reading.engine, reading.lines, pixels)
        extra += 1
    ctx.inference.record(Role.OCR_CHAIN, "gate_samples", len(gate.samples))
    ctx.inference.record(Role.OCR_CHAIN, "extra_frames", extra)
    ctx.inference.record(Role.OCR_CHAIN, "extra_frames_refused", choice.refused)
    reads.frames.sort(key=lambda pair: _when(pair[0]))
    return reads


def _shot_of(shots: list[tuple[float | None, float | None]], seconds: float) -> tuple[float | None, float | None]:
    """The range of the shot a time is in (the frame's own time where no shot holds it)."""
    for start, end in shots:
        if (start is None or start <= seconds) and (end is None or seconds < end):
            return start, end
    return seconds, seconds


def _when(frame: Frame) -> float:
    if frame.time is not None:
        return frame.time
    return frame.start or 0.0


def time_runs(ctx: OperatorContext, runs: list[TextRun], reads: VideoReads) -> list[Span]:
    """Where each run's line is visible (:mod:`mediasift.media.text_tracking`), its box read in the
    frames by rapidocr's recogniser (:func:`seen`). Runs whose best frame tesseract read, and runs of
    frames without a recorded time, are not timed: their spans are unknown (None)."""
    times = reads.times
    primary = ctx.inference.catalog.ref(Role.OCR_READER).id
    timed = [i for i, run in enumerate(runs) if reads.engines[run.best_key] == primary and run.best_key in times]
    if not timed:
        return [Span(None, None)] * len(runs)
    shots = ctx.segments(operator=KEYFRAMES, kind="shot") or ctx.segments(operator=KEYFRAMES, kind="keyframe")
    video_end = max((seg.end for seg in shots if seg.end is not None), default=max(times.values()))

    reads_left = dict.fromkeys(range(len(timed)), TRACK_READS_PER_LINE)

    def looks(crops: list[tuple[int, np.ndarray]]) -> list[Seen]:
        """By the box's pixels against the box as read where they tell (:mod:`mediasift.media.box_match`),
        else by reading the box with the recogniser."""
        verdicts: list[Seen | None] = []
        for i, crop in crops:
            run = runs[timed[i]]
            read = reads.boxes.get((run.best_key, run.best.box))
            verdicts.append(None if read is None else box_match.compare(read, crop))
        unread, refused = [], 0
        for index, verdict in enumerate(verdicts):
            line = crops[index][0]
            if verdict is None and reads_left[line] <= 0:
                verdicts[index], refused = Seen.CUT, refused + 1  # it moves with the picture: the shots' bound
            elif verdict is None:
                reads_left[line] -= 1
                unread.append(index)
        if unread:
            readings = ctx.inference.recognise_crops([crops[index][1] for index in unread])
            for index, (text, _) in zip(unread, readings, strict=True):
                verdicts[index] = seen(normalise(text), runs[timed[crops[index][0]]].normalised)
        ctx.inference.record(Role.OCR_CHAIN, "track_pixel_verdicts", len(crops) - len(unread) - refused)
        ctx.inference.record(Role.OCR_CHAIN, "track_reads", len(unread))
        ctx.inference.record(Role.OCR_CHAIN, "track_reads_refused", refused)
        return [verdict or Seen.GONE for verdict in verdicts]

    sightings = [Sighting(runs[i].best.box, tuple(runs[i].keys)) for i in timed]
    size = reads.sizes[runs[timed[0]].best_key]
    found = visible_spans(ctx.media_path, sightings, times, video_end, size, looks)
    spans = [Span(None, None)] * len(runs)
    for i, span in zip(timed, found.spans, strict=True):
        spans[i] = span
    return spans
