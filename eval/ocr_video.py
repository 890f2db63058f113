"""On-screen text in video: is each caption reported once, with the time range it is visible?

    HF_HUB_OFFLINE=1 .venv/bin/python eval/ocr_video.py

Generated videos (H.264, 25 fps, real photos from scikit-image, DejaVu Sans Bold captions), each with
known caption times:

- a caption that comes up and goes away inside one still shot (as in the bug report: a title on screen
  1-5 s of a 0-7 s shot), and another inside a longer shot;
- a lower third and a title that start late in one shot and run into the next (the first shot's
  keyframe misses them), and a lower third that spans two cuts;
- a caption over a photo the camera pans across (the caption stays put, the picture moves under it);
- two captions one after the other in one shot, at the same place;
- a caption that fades in and out over 0.4 s (its truth: the middle of each fade);
- a 1280x720 video with two lower thirds, for the cost at a larger frame size;
- scored apart: a shop sign on a photo the camera pans across, text that moves out of the box it
  was read in (its bounds should fall back to the shots', not shrink).

Every video goes through the real keyframes operator (shots and keyframes) and the OCR operator, in
memory, twice: with the text timing off (each caption gets the range of the shots whose keyframes
showed it, as before) and on. Printed per caption: the truth and both ranges; then, for captions
found, the mean and max absolute error of start and end before and after, captions missed (no
keyframe showed them) and repeated (reported as more than one run), and the OCR operator's time per
minute of video before and after, with the crops read. Timings are wall clock on this machine, models
loaded beforehand.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import av
import numpy as np
from av.video.stream import VideoStream
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mediasift.config import Settings
from mediasift.mediatype import MediaType
from mediasift.models.ocr import get_text_reader
from mediasift.operators.keyframes import Keyframes
from mediasift.operators.ocr import SAME_TEXT_RATIO, Ocr, normalise, similarity
from mediasift.pipeline.operator import AssetView, Operator, OperatorContext, OperatorResult, StoredSegment

import mediagen

FPS = 25
SIZE = (640, 360)


@dataclass(frozen=True)
class Shot:
    photo: str
    seconds: float
    pan: bool = False  # the camera moves across the photo, left to right
    sign: str = ""  # text on the photo itself (a shop sign), fully in view all along the shot


@dataclass(frozen=True)
class Caption:
    text: str
    start: float
    end: float
    place: str = "lower"  # "lower": a lower third on a dark band; "top": bare outlined text; "scene": a sign
    fade_s: float = 0.0  # fades in from ``start`` and out until ``end``; truth: the middle of each fade

    @property
    def truth(self) -> tuple[float, float]:
        return self.start + self.fade_s / 2, self.end - self.fade_s / 2


@dataclass(frozen=True)
class Video:
    name: str
    shots: tuple[Shot, ...]
    captions: tuple[Caption, ...]
    size: tuple[int, int] = SIZE

    @property
    def seconds(self) -> float:
        return sum(shot.seconds for shot in self.shots)


VIDEOS = (
    Video("title in a still shot", (Shot("astronaut", 7.0), Shot("coffee", 3.0)),
          (Caption("Breaking News Tonight", 1.0, 5.0, "top"),)),
    Video("caption in a long shot", (Shot("rocket", 12.0),),
          (Caption("Storm warning for the coast", 3.0, 8.5),)),
    Video("lower third into the next shot", (Shot("coffee", 6.0), Shot("chelsea", 6.0)),
          (Caption("Harbour closed until Monday", 4.6, 9.4),)),
    Video("title into the next shot", (Shot("rocket", 6.0), Shot("astronaut", 6.0)),
          (Caption("Weather warning heavy rain", 5.5, 9.2, "top"),)),
    Video("lower third over two cuts", (Shot("astronaut", 4.0), Shot("rocket", 4.0), Shot("coffee", 4.0)),
          (Caption("Election results live", 2.5, 9.5),)),
    Video("caption over a pan", (Shot("chelsea", 10.0, pan=True),),
          (Caption("Live from the city centre", 2.5, 7.5),)),
    Video("two captions in one shot", (Shot("astronaut", 10.0),),
          (Caption("Interview with the director", 1.0, 4.5), Caption("Recorded in March", 5.0, 9.0))),
    Video("fading caption", (Shot("rocket", 9.0),), (Caption("Traffic delays on highway 101", 2.0, 6.8, fade_s=0.4),)),
    Video("720p lower thirds", (Shot("coffee", 8.0), Shot("astronaut", 8.0, pan=True)),
          (Caption("Price drop this weekend", 1.5, 6.0), Caption("Match report final score", 9.0, 14.0)),
          size=(1280, 720)),
)  # fmt: skip
# Scored apart: text that moves leaves the box it was read in (see mediasift.operators.ocr_timing).
MOVING = (
    Video("sign in a panning shot", (Shot("coffee", 4.0), Shot("chelsea", 8.0, pan=True, sign="Main Street Bakery"),
                                     Shot("rocket", 4.0)), (Caption("Main Street Bakery", 4.0, 12.0, "scene"),)),
)  # fmt: skip


# ------------------------------------------------------------------------------ rendering


def _backdrop(shot: Shot, size: tuple[int, int]) -> Iterator[np.ndarray]:
    width, height = size
    frames = round(shot.seconds * FPS)
    wide = (round(width * 1.4), height) if shot.pan else size
    image = Image.fromarray(mediagen.photo(shot.photo)).convert("RGB").resize(wide, Image.Resampling.BILINEAR)
    if shot.sign:  # text on the scene itself, in the middle of the photo: it moves with the camera
        draw = ImageDraw.Draw(image)
        draw.rectangle((wide[0] / 2 - 150, height / 2 - 30, wide[0] / 2 + 150, height / 2 + 30), fill=(250, 245, 230))
        draw.text((wide[0] / 2, height / 2), shot.sign, fill=(30, 30, 30), font=mediagen.font(28), anchor="mm")
    picture = np.asarray(image)
    for index in range(frames):
        left = round((wide[0] - width) * index / max(1, frames - 1))
        yield np.ascontiguousarray(picture[:, left : left + width])


def _opacity(caption: Caption, seconds: float) -> float:
    if not caption.start <= seconds < caption.end:
        return 0.0
    if caption.fade_s <= 0:
        return 1.0
    return min(1.0, (seconds - caption.start) / caption.fade_s, (caption.end - seconds) / caption.fade_s)


def _draw(frame: np.ndarray, caption: Caption, opacity: float) -> np.ndarray:
    width, height = frame.shape[1], frame.shape[0]
    scale = height / 360
    layer = Image.new("RGBA", (width, height))
    draw = ImageDraw.Draw(layer)
    if caption.place == "lower":
        draw.rectangle((0, height - round(80 * scale), width, height - round(20 * scale)), fill=(0, 0, 0, 150))
        centre = (width / 2, height - 50 * scale)
    else:
        centre = (width / 2, 50 * scale)
    draw.text(centre, caption.text, fill=(255, 255, 255, 255), font=mediagen.font(round(30 * scale)), anchor="mm",
              stroke_width=max(1, round(2 * scale)), stroke_fill=(0, 0, 0, 255))  # fmt: skip
    alpha = np.asarray(layer)[..., 3:4].astype(np.float32) / 255 * opacity
    blended = frame * (1 - alpha) + np.asarray(layer)[..., :3] * alpha
    return np.asarray(blended.round(), dtype=np.uint8)


def write_video(video: Video, path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = cast(VideoStream, out.add_stream("h264", rate=FPS))
        stream.width, stream.height = video.size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast"}
        index = 0
        for shot in video.shots:
            for pixels in _backdrop(shot, video.size):
                seconds = index / FPS
                for caption in video.captions:
                    if caption.place != "scene" and (opacity := _opacity(caption, seconds)) > 0:
                        pixels = _draw(pixels, caption, opacity)
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = index
                index += 1
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


# ------------------------------------------------------------------------------ operators in memory


@dataclass
class Memory:
    """What an operator context reads: segments produced so far and blobs."""

    segments: list[StoredSegment] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)

    def context(self, operator: Operator, path: Path, settings: Settings) -> OperatorContext:
        def read_segments(*, operator: str | None = None, kind: str | None = None) -> list[StoredSegment]:
            return [s for s in self.segments if operator in (None, s.operator) and kind in (None, s.kind)]

        def put_blob(data: bytes, mime: str) -> str:
            sha = hashlib.sha256(data).hexdigest()
            self.blobs[sha] = data
            return sha

        return OperatorContext(
            asset=AssetView(uuid4(), MediaType.VIDEO, "video/mp4", "", {}),
            settings=settings,
            params=operator.params(settings),
            media_path=path,
            read_segments=read_segments,
            read_blob=self.blobs.__getitem__,
            put_blob=put_blob,
        )

    def keep(self, operator: str, result: OperatorResult) -> None:
        for seg in result.segments:
            self.segments.append(StoredSegment(len(self.segments), operator, seg.kind, seg.key, seg.start, seg.end,
                                               seg.region, seg.text, seg.confidence, seg.data))  # fmt: skip


def keyframes(path: Path, settings: Settings) -> Memory:
    memory = Memory()
    operator = Keyframes()
    memory.keep(operator.name, operator.run(memory.context(operator, path, settings)))
    return memory


def ocr(memory: Memory, path: Path, settings: Settings, timing: bool) -> tuple[list[dict[str, Any]], float, float]:
    """The OCR operator's runs, its wall-clock seconds and the CPU seconds of the whole process meanwhile
    (the recogniser's threads included), which other work on the machine disturbs less."""
    operator = Ocr(timing=timing)
    started, cpu = time.perf_counter(), time.process_time()
    result = operator.run(memory.context(operator, path, settings))
    runs = [seg.data | {"text": seg.text} for seg in result.segments]
    return runs, time.perf_counter() - started, time.process_time() - cpu


# ------------------------------------------------------------------------------ scoring


@dataclass
class Tally:
    errors: dict[str, list[float]] = field(default_factory=lambda: {"before": [], "after": []})
    found: int = 0
    missed: int = 0
    repeated: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"before": 0.0, "after": 0.0})
    cpu: dict[str, float] = field(default_factory=lambda: {"before": 0.0, "after": 0.0})
    video_s: float = 0.0
    reads: int = 0


def _matches(runs: list[dict[str, Any]], caption: Caption) -> list[dict[str, Any]]:
    wanted = normalise(caption.text)
    return [run for run in runs if run["text"] and similarity(normalise(run["text"]), wanted) >= SAME_TEXT_RATIO]


def _overlap(run: dict[str, Any], span: tuple[float, float]) -> float:
    return min(run["end"], span[1]) - max(run["start"], span[0])


def score(video: Video, before: list[dict[str, Any]], after: list[dict[str, Any]], tally: Tally) -> None:
    for caption in video.captions:
        truth = caption.truth
        shown = f"  {caption.text!r:34} truth {truth[0]:5.2f}-{truth[1]:5.2f}"
        runs = {"before": _matches(before, caption), "after": _matches(after, caption)}
        if not runs["after"]:
            tally.missed += 1
            print(f"{shown}  MISSED (no keyframe read it)")
            continue
        tally.found += 1
        tally.repeated += len(runs["after"]) > 1
        parts = []
        for when, found in runs.items():
            run = max(found, key=lambda r: _overlap(r, truth))
            tally.errors[when] += [abs(run["start"] - truth[0]), abs(run["end"] - truth[1])]
            parts.append(f"{when} {run['start']:5.2f}-{run['end']:5.2f}")
        repeat = f"  REPEATED x{len(runs['after'])}" if len(runs["after"]) > 1 else ""
        print(f"{shown}  {'  '.join(parts)}{repeat}")


def crop_reads() -> int:
    """Line crops the recogniser has read in this process (its micro-batcher's count)."""
    return get_text_reader().batcher.items


def run(videos: tuple[Video, ...], settings: Settings, folder: Path) -> Tally:
    tally = Tally()
    for number, video in enumerate(videos):
        path = write_video(video, folder / f"video{number}.mp4")
        memory = keyframes(path, settings)
        before, before_s, before_cpu = ocr(memory, path, settings, timing=False)
        reads = crop_reads()
        after, after_s, after_cpu = ocr(memory, path, settings, timing=True)
        read_now = crop_reads() - reads
        tally.seconds["before"] += before_s
        tally.seconds["after"] += after_s
        tally.cpu["before"] += before_cpu
        tally.cpu["after"] += after_cpu
        tally.video_s += video.seconds
        tally.reads += read_now
        shots = [s for s in memory.segments if s.kind == "shot"]
        print(f"{video.name} ({video.size[0]}x{video.size[1]}, {video.seconds:.0f} s, {len(shots)} shots; "
              f"OCR {before_s:.2f} s -> {after_s:.2f} s, CPU {before_cpu:.2f} s -> {after_cpu:.2f} s, "
              f"{read_now} crops read)")  # fmt: skip
        score(video, before, after, tally)
    return tally


def summary(tally: Tally) -> None:
    print(f"  captions: {tally.found} found, {tally.missed} missed, {tally.repeated} repeated")
    for when in ("before", "after"):
        errors = tally.errors[when]
        starts, ends = errors[0::2], errors[1::2]
        print(f"  {when:6}  start error mean {statistics.mean(starts):.2f} s, max {max(starts):.2f} s;"
              f"  end error mean {statistics.mean(ends):.2f} s, max {max(ends):.2f} s")  # fmt: skip


def main() -> int:
    settings = Settings(home=Path(tempfile.mkdtemp(prefix="ocr-video-eval-")))
    get_text_reader().read(mediagen.photo("astronaut"))  # load the models outside the timing
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        tally = run(VIDEOS, settings, Path(folder))
        print()
        moving = run(MOVING, settings, Path(folder))
    print()
    print("Overlaid text (captions, titles, lower thirds)")
    summary(tally)
    for label, spent in (("wall-clock", tally.seconds), ("CPU", tally.cpu)):
        per_minute = {when: seconds * 60 / tally.video_s for when, seconds in spent.items()}
        added = per_minute["after"] - per_minute["before"]
        print(f"  OCR {label} time per minute of video: {per_minute['before']:.1f} s before, "
              f"{per_minute['after']:.1f} s after (+{added:.1f} s)")  # fmt: skip
    print(f"  crops read per minute of video: {tally.reads * 60 / tally.video_s:.0f}")
    print("Text that moves with the scene")
    summary(moving)
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
