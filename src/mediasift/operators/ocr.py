"""Text drawn in images and keyframes, with boxes and confidence: rapidocr, or tesseract when rapidocr
fails or is too slow (the fallback chain of :mod:`mediasift.models.ocr`). Which engine read a picture
is kept in its data (``engine``).

An image gives one segment holding all its lines. In a video, a caption or lower third stays on screen
across several keyframes; rather than repeat it per keyframe, a line read again in the next keyframe
extends the same text run, and each run becomes one segment. Its time range is where the line is
visible, found by reading its box in the frames around its keyframes
(:mod:`mediasift.operators.ocr_timing`); the range of the shots whose keyframes showed it is kept as
``seen_in``, and ``timing`` says per bound whether it was found in the frames or is the shots'. A
line that tesseract read (the fallback, when rapidocr failed) keeps the shots' range: the frames are
read with rapidocr's recogniser, which was just found wanting. Every line is stored with its
confidence; lines under ``min_confidence`` are not searchable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.cache import cache, cache_enabled, input_hash
from mediasift.inference.fallback import FallbackChain
from mediasift.mediatype import MediaType
from mediasift.models.ocr import OCR_CHAIN, OcrLine, TextReader, get_text_reader, shared_chain
from mediasift.operators.images import KEYFRAMES, ImageItem, ImageOperator, iter_images
from mediasift.operators.ocr_timing import Seen, Sighting, Span, visible_spans
from mediasift.pipeline.operator import ArtifactOut, OperatorContext, OperatorResult, SegmentOut

# Two reads of one caption in different frames differ by a character or two (a letter misread over a
# changing background, a dropped space); distinct captions rarely share 80 % of their characters.
SAME_TEXT_RATIO = 0.8
# A read that is one piece of a line from one of its ends, this long at least, is the line cut off.
CUT_SHARE = 0.4


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form: OCR drops or adds spaces between frames."""
    return "".join(text.casefold().split())


def similarity(a: str, b: str) -> float:
    return 1.0 if a == b else SequenceMatcher(None, a, b, autojunk=False).ratio()


def seen(read: str, line: str) -> Seen:
    """What a box that showed ``line`` shows now, by what it reads (both normalised): the line; or a
    piece of it from one of its ends, most of what was read, so the line moved and the box cuts it
    (a sign in a panning shot); or something else."""
    if similarity(read, line) >= SAME_TEXT_RATIO:
        return Seen.SHOWN
    match = SequenceMatcher(None, read, line, autojunk=False).find_longest_match(0, len(read), 0, len(line))
    at_an_end = match.b == 0 or match.b + match.size == len(line)
    if at_an_end and match.size >= max(3, CUT_SHARE * len(line)) and match.size >= SAME_TEXT_RATIO * len(read):
        return Seen.CUT
    return Seen.GONE


def line_data(line: OcrLine) -> dict[str, Any]:
    return {"text": line.text, "confidence": round(line.confidence, 4), "box": list(line.box)}


@dataclass(eq=False)  # runs are told apart by identity: two runs may hold equal values
class TextRun:
    """One line of text seen in consecutive keyframes; ``best`` is its most confident read."""

    start: float | None
    end: float | None
    best: OcrLine
    best_key: str
    keys: list[str]  # every keyframe the run spans

    @property
    def normalised(self) -> str:
        return normalise(self.best.text)

    def extend(self, item: ImageItem, line: OcrLine) -> None:
        self.end = item.end
        self.keys.append(item.key)
        if line.confidence > self.best.confidence:
            self.best, self.best_key = line, item.key


def merge_runs(frames: Iterable[tuple[ImageItem, list[OcrLine]]]) -> list[TextRun]:
    """Text runs over keyframes given in time order, ordered by start, then top to bottom.

    Each line of a keyframe extends the run of the previous keyframe whose normalised text is most
    similar to it, if that similarity is ``SAME_TEXT_RATIO`` or more; a run takes at most one line per
    keyframe, and a run not extended by a keyframe is closed, so text that leaves the screen and comes
    back later is two runs.
    """
    closed: list[TextRun] = []
    open_runs: list[TextRun] = []
    for item, lines in frames:
        extended: list[TextRun] = []
        for line in lines:
            text = normalise(line.text)
            scored = [(similarity(run.normalised, text), run) for run in open_runs]
            ratio, match = max(scored, key=lambda pair: pair[0], default=(0.0, None))
            if match is not None and ratio >= SAME_TEXT_RATIO:
                open_runs.remove(match)
                match.extend(item, line)
                run = match
            else:
                run = TextRun(item.start, item.end, line, item.key, [item.key])
            extended.append(run)
        closed.extend(open_runs)
        open_runs = extended
    closed.extend(open_runs)
    return sorted(closed, key=lambda run: (run.start or 0.0, run.best.box[1], run.best.box[0]))


def read(chain: FallbackChain[list[OcrLine]], pixels: np.ndarray, cached: bool) -> tuple[str, list[OcrLine]]:
    """The engine that read a picture and its lines. What the primary engine read is cached (a picture
    seen before costs no inference); a fallback's reading is not, so the primary reads it again once
    it is back. Only the shared chain's readings are cached: another chain is another model."""
    key = input_hash(pixels)
    if cached and cache_enabled():
        known = cache.get_many(TextReader.ref, [key])
        stats.record_cache(TextReader.ref, hits=len(known), misses=1 - len(known))
        if known:
            return TextReader.ref.id, [OcrLine(**line) for line in known[key]]
    answer = chain(pixels)
    if cached and cache_enabled() and answer.used == TextReader.ref:
        cache.put_many(TextReader.ref, {key: [dataclasses.asdict(line) for line in answer.value]})
    return answer.used.id, answer.value


class Ocr(ImageOperator):
    """``chain`` replaces the process-wide one built from the settings (a test points its primary at
    broken model files, for one). ``timing=False`` leaves a video's text runs at their shots' range
    (``eval/ocr_video.py`` compares the cost)."""

    name = "ocr"
    version = "4"
    model = OCR_CHAIN

    def __init__(self, chain: FallbackChain[list[OcrLine]] | None = None, *, timing: bool = True) -> None:
        self.chain = chain
        self.timing = timing

    def params(self, settings: Settings) -> dict[str, Any]:
        return {"min_confidence": settings.ocr_min_confidence}

    def run(self, ctx: OperatorContext) -> OperatorResult:
        settings = ctx.settings
        chain = self.chain
        if chain is None:
            chain = shared_chain(settings.ocr_timeout_s, settings.breaker_threshold, settings.breaker_cooldown_s)
        engines: dict[str, str] = {}  # keyframe or picture key -> the engine that read it
        sizes: dict[str, tuple[int, int]] = {}  # keyframe key -> (width, height)

        def frames() -> Iterator[tuple[ImageItem, list[OcrLine]]]:
            for item in iter_images(ctx):
                engines[item.key], lines = read(chain, item.pixels, cached=self.chain is None)
                sizes[item.key] = (item.pixels.shape[1], item.pixels.shape[0])
                yield item, lines

        if ctx.asset.media_type is MediaType.VIDEO:
            runs = merge_runs(frames())
            spans = time_runs(ctx, runs, engines, sizes) if self.timing else [Span(None, None)] * len(runs)
            return self._video(runs, spans, engines, ctx.params["min_confidence"])
        return self._image(frames(), engines, ctx.params["min_confidence"])

    @staticmethod
    def _image(
        frames: Iterable[tuple[ImageItem, list[OcrLine]]], engines: dict[str, str], floor: float
    ) -> OperatorResult:
        result = OperatorResult()
        for item, lines in frames:
            if not lines:
                continue
            kept = [line for line in lines if line.confidence >= floor]
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
    def _video(runs: list[TextRun], spans: list[Span], engines: dict[str, str], floor: float) -> OperatorResult:
        result = OperatorResult()
        for index, (run, span) in enumerate(zip(runs, spans, strict=True)):
            key = f"text{index:05d}"
            best = run.best
            start = run.start if span.start is None else span.start
            end = run.end if span.end is None else span.end
            data = {
                "lines": [line_data(best)],
                "start": start,
                "end": end,
                "seen_in": [run.start, run.end],  # the shots whose keyframes showed it
                # how each bound was found: in the frames, or the shots' bound kept
                "timing": {"start": "shots" if span.start is None else "frames",
                           "end": "shots" if span.end is None else "frames"},
                "keyframe": run.best_key,  # the keyframe the box is in
                "keyframes": run.keys,
                "engine": engines[run.best_key],  # the engine that read that keyframe
            }  # fmt: skip
            result.segments.append(
                SegmentOut(kind="ocr", key=key, start=start, end=end,
                           text=best.text if best.confidence >= floor else None, confidence=best.confidence,
                           data=data)
            )  # fmt: skip
            result.artifacts.append(
                ArtifactOut(kind="ocr", key=key, data=data, confidence=best.confidence, segment_key=key)
            )
        return result


def time_runs(
    ctx: OperatorContext, runs: list[TextRun], engines: dict[str, str], sizes: dict[str, tuple[int, int]]
) -> list[Span]:
    """Where each run's line is visible (:mod:`mediasift.operators.ocr_timing`), its box read in the
    frames by rapidocr's recogniser (:func:`seen`). Runs whose keyframe tesseract read, and runs of
    keyframes without a recorded time, are not timed: their spans are unknown (None)."""
    keyframes = ctx.segments(operator=KEYFRAMES, kind="keyframe")
    times = {seg.key: float(seg.data["time"]) for seg in keyframes if "time" in seg.data}
    timed = [i for i, run in enumerate(runs) if engines[run.best_key] == TextReader.ref.id and run.best_key in times]
    if not timed:
        return [Span(None, None)] * len(runs)
    shots = ctx.segments(operator=KEYFRAMES, kind="shot") or keyframes
    video_end = max((seg.end for seg in shots if seg.end is not None), default=max(times.values()))
    reader = get_text_reader()

    def looks(crops: list[tuple[int, np.ndarray]]) -> list[Seen]:
        readings = reader.recognise([crop for _, crop in crops])
        return [
            seen(normalise(text), runs[timed[i]].normalised) for (i, _), (text, _) in zip(crops, readings, strict=True)
        ]

    sightings = [Sighting(runs[i].best.box, tuple(runs[i].keys)) for i in timed]
    rotation = int(ctx.asset.metadata.get("rotation") or 0)
    found = visible_spans(ctx.media_path, sightings, times, video_end, sizes[runs[timed[0]].best_key], rotation, looks)
    spans = [Span(None, None)] * len(runs)
    for i, span in zip(timed, found.spans, strict=True):
        spans[i] = span
    return spans
