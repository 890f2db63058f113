"""On-screen text in video: is each caption found, reported once, with the time range it is visible?

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
- burned-in subtitles that change every 2.5 s over one 15 s shot of a panning photo (one keyframe);
- a subtitle shown only in the first 2 s of a 10 s shot whose keyframe sits later. The keyframe picker
  favours sharp frames near a random-access point, and text is sharp, so with x264's defaults (a key
  frame on every cut and caption) it lands on such a caption; this video is written as streaming
  encoders write (a key frame every 2 s, none at cuts) over a textured photo, where it does not;
- scored apart: a shop sign on a photo the camera pans across, text that moves out of the box it
  was read in (its bounds should fall back to the shots', not shrink);
- and a text-free minute (six 10 s shots, four of them panning) for what the gate costs where there
  is nothing to find.

Every video goes through the real keyframes operator (shots and keyframes) and the OCR operator, in
memory, twice: reading the keyframes only (``MEDIASIFT_OCR_EXTRA_FRAMES_PER_MINUTE=0``, before) and
with frames between keyframes read where the gate sees new text (the default, after); both time each
line in the frames. Printed per caption: the truth and both ranges; then per mode the captions found,
missed (no frame read showed them) and repeated (reported as more than one run), the mean and max
absolute error of start and end over the captions found, and the OCR operator's time per minute of
video, with the frames between keyframes it read. For the text-free minute, where one keyframe's read
varies by more than the gate costs, the least OCR CPU of three alternating runs per mode, and the
gate's pass alone. Timings are wall clock and process CPU on this machine, models loaded beforehand.
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
from mediasift.inference import stats
from mediasift.inference.door import Inference
from mediasift.inference.ocr import CHAIN
from mediasift.media import text_gate
from mediasift.mediatype import MediaType
from mediasift.operators.keyframes import Keyframes
from mediasift.operators.ocr import SAME_TEXT_RATIO, Ocr, normalise, similarity
from mediasift.pipeline.operator import AssetView, Operator, OperatorContext
from mediasift.records import OperatorResult, StoredSegment

from support import mediagen

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
    place: str = "lower"  # "lower": a lower third on a dark band; "top": bare outlined text; "subtitle": smaller,
    # at the bottom; "scene": a sign
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
    gop_s: float = 0.0  # a key frame every this long and none at cuts (streaming encodes); 0: x264's choice

    @property
    def seconds(self) -> float:
        return sum(shot.seconds for shot in self.shots)


SUBTITLES = ("The river rose overnight", "Families left their homes", "Rescue boats arrived at dawn",
             "Volunteers filled sandbags", "The water began to fall", "Cleanup starts on Monday")  # fmt: skip

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
    Video("subtitles in a panning shot", (Shot("chelsea", 15.0, pan=True),),
          tuple(Caption(text, 2.5 * i, 2.5 * (i + 1), "subtitle") for i, text in enumerate(SUBTITLES))),
    Video("subtitle in the first 2 s of a shot", (Shot("rocket", 5.0), Shot("gravel", 10.0)),
          (Caption("Live from the harbour", 5.0, 7.0, "subtitle"),), gop_s=2.0),
)  # fmt: skip
# Scored apart: text that moves leaves the box it was read in (see mediasift.media.text_tracking).
MOVING = (
    Video("sign in a panning shot", (Shot("coffee", 4.0), Shot("chelsea", 8.0, pan=True, sign="Main Street Bakery"),
                                     Shot("rocket", 4.0)), (Caption("Main Street Bakery", 4.0, 12.0, "scene"),)),
)  # fmt: skip
TEXT_FREE = Video("a text-free minute", tuple(Shot(photo, 10.0, pan=pan) for photo, pan in (
    ("astronaut", True), ("coffee", False), ("chelsea", True), ("rocket", True), ("gravel", False),
    ("coffee", True))), ())  # fmt: skip


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
    size = 30
    if caption.place == "lower":
        draw.rectangle((0, height - round(80 * scale), width, height - round(20 * scale)), fill=(0, 0, 0, 150))
        centre = (width / 2, height - 50 * scale)
    elif caption.place == "subtitle":  # burned-in subtitles: smaller, low, no band
        size, centre = 22, (width / 2, height - 36 * scale)
    else:
        centre = (width / 2, 50 * scale)
    draw.text(centre, caption.text, fill=(255, 255, 255, 255), font=mediagen.font(round(size * scale)), anchor="mm",
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
        if video.gop_s:
            gop = round(video.gop_s * FPS)
            stream.options |= {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
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
            inference=Inference(settings),
            params=operator.params(settings),
            media_path=path,
            read_segments=read_segments,
            read_blob=self.blobs.__getitem__,
            put_blob=put_blob,
            put_file=lambda path, mime: put_blob(path.read_bytes(), mime),
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


@dataclass
class Reading:
    """What the OCR operator gave for one video in one mode, and what it took."""

    runs: list[dict[str, Any]]
    seconds: float  # wall clock
    cpu: float  # CPU of the whole process (the recogniser's threads included), which other work disturbs less
    extra_frames: int  # frames between keyframes read in full


def ocr(memory: Memory, path: Path, settings: Settings) -> Reading:
    operator = Ocr()
    extra = stats.count(CHAIN, "extra_frames")
    started, cpu = time.perf_counter(), time.process_time()
    result = operator.run(memory.context(operator, path, settings))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    runs = [seg.data | {"text": seg.text} for seg in result.segments]
    return Reading(runs, seconds, cpu, round(stats.count(CHAIN, "extra_frames") - extra))


# ------------------------------------------------------------------------------ scoring

MODES = ("before", "after")  # keyframes only; keyframes and the frames between that the gate picks


@dataclass
class Tally:
    captions: int = 0
    errors: dict[str, list[float]] = field(default_factory=lambda: {mode: [] for mode in MODES})
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODES, 0))
    repeated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODES, 0))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MODES, 0.0))
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MODES, 0.0))
    extra_frames: int = 0
    video_s: float = 0.0


def _matches(runs: list[dict[str, Any]], caption: Caption) -> list[dict[str, Any]]:
    wanted = normalise(caption.text)
    return [run for run in runs if run["text"] and similarity(normalise(run["text"]), wanted) >= SAME_TEXT_RATIO]


def _overlap(run: dict[str, Any], span: tuple[float, float]) -> float:
    return min(run["end"], span[1]) - max(run["start"], span[0])


def score(video: Video, readings: dict[str, Reading], tally: Tally) -> None:
    for caption in video.captions:
        truth = caption.truth
        tally.captions += 1
        parts = []
        for mode, reading in readings.items():
            found = _matches(reading.runs, caption)
            if not found:
                parts.append(f"{mode} MISSED     ")
                continue
            tally.found[mode] += 1
            tally.repeated[mode] += len(found) > 1
            run = max(found, key=lambda r: _overlap(r, truth))
            tally.errors[mode] += [abs(run["start"] - truth[0]), abs(run["end"] - truth[1])]
            repeat = f" x{len(found)}" if len(found) > 1 else "   "
            parts.append(f"{mode} {run['start']:5.2f}-{run['end']:5.2f}{repeat}")
        print(f"  {caption.text!r:34} truth {truth[0]:5.2f}-{truth[1]:5.2f}  {'  '.join(parts)}")


def run(videos: tuple[Video, ...], settings: dict[str, Settings], folder: Path) -> Tally:
    tally = Tally()
    for number, video in enumerate(videos):
        path = write_video(video, folder / f"video{number}.mp4")
        memory = keyframes(path, settings["after"])
        readings = {mode: ocr(memory, path, settings[mode]) for mode in MODES}
        for mode, reading in readings.items():
            tally.seconds[mode] += reading.seconds
            tally.cpu[mode] += reading.cpu
        tally.extra_frames += readings["after"].extra_frames
        tally.video_s += video.seconds
        shots = [s for s in memory.segments if s.kind == "shot"]
        before, after = readings["before"], readings["after"]
        print(f"{video.name} ({video.size[0]}x{video.size[1]}, {video.seconds:.0f} s, {len(shots)} shots; "
              f"OCR {before.seconds:.2f} s -> {after.seconds:.2f} s, CPU {before.cpu:.2f} s -> {after.cpu:.2f} s, "
              f"{after.extra_frames} frames between keyframes read)")  # fmt: skip
        score(video, readings, tally)
    return tally


def summary(tally: Tally) -> None:
    for mode in MODES:
        errors = tally.errors[mode]
        starts, ends = errors[0::2], errors[1::2]
        timing = (
            f"start error mean {statistics.mean(starts):.2f} s, max {max(starts):.2f} s; "
            f"end error mean {statistics.mean(ends):.2f} s, max {max(ends):.2f} s"
            if errors
            else "no caption found"
        )
        print(f"  {mode:6}  found {tally.found[mode]}/{tally.captions}, repeated {tally.repeated[mode]};  {timing}")
    cost(tally)


def cost(tally: Tally) -> None:
    for label, spent in (("wall-clock", tally.seconds), ("CPU", tally.cpu)):
        per_minute = {mode: seconds * 60 / tally.video_s for mode, seconds in spent.items()}
        added = per_minute["after"] - per_minute["before"]
        print(f"  OCR {label} time per minute of video: {per_minute['before']:.1f} s before, "
              f"{per_minute['after']:.1f} s after ({added:+.1f} s)")  # fmt: skip
    print(f"  frames between keyframes read per minute of video: {tally.extra_frames * 60 / tally.video_s:.1f}")


def text_free_cost(settings: dict[str, Settings], folder: Path, repeats: int = 3) -> None:
    """OCR CPU per minute of the text-free video, the least of ``repeats`` runs per mode, alternating
    (one keyframe read varies by more than the gate costs); and the gate's pass alone."""
    path = write_video(TEXT_FREE, folder / "text-free.mp4")
    memory = keyframes(path, settings["after"])
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    extra = 0
    for _ in range(repeats):
        for mode in MODES:
            reading = ocr(memory, path, settings[mode])
            cpu[mode].append(reading.cpu)
            extra += reading.extra_frames
    times = [float(s.data["time"]) for s in memory.segments if s.kind == "keyframe"]
    gate = []
    for _ in range(repeats):
        started = time.process_time()
        text_gate.scan(path, times)
        gate.append(time.process_time() - started)
    per_minute = 60 / TEXT_FREE.seconds
    least = {mode: min(spent) * per_minute for mode, spent in cpu.items()}
    print(f"{TEXT_FREE.name} ({TEXT_FREE.size[0]}x{TEXT_FREE.size[1]}, {len(times)} keyframes, least of {repeats}): "
          f"OCR CPU per minute {least['before']:.2f} s before, {least['after']:.2f} s after "
          f"({least['after'] - least['before']:+.2f} s); the gate's pass alone {min(gate) * per_minute:.2f} s; "
          f"{extra} frames between keyframes read")  # fmt: skip


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="ocr-video-eval-"))
    # The cache off, so that both runs read every frame.
    after = Settings(home=home, inference_cache=False)
    settings = {"before": after.model_copy(update={"ocr_extra_frames_per_minute": 0}), "after": after}
    Inference(after).read_text(mediagen.photo("astronaut"))  # load the models outside the timing
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        tally = run(VIDEOS, settings, Path(folder))
        print()
        moving = run(MOVING, settings, Path(folder))
        print()
        print("Overlaid text (captions, titles, lower thirds, subtitles)")
        summary(tally)
        print("Text that moves with the scene")
        summary(moving)
        print("No text")
        text_free_cost(settings, Path(folder))
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
