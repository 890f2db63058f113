"""On-screen text in video comes out with the time range it is visible.

The first tests drive the frame search (:mod:`mediasift.operators.ocr_timing`) over real decoded video
with a plain pixel test for "the box shows the line" (a white bar on grey), so they need no model; so
do those of the gate that picks frames between keyframes to read (:mod:`mediasift.operators.ocr_sampling`).
The slow ones run the real keyframes and OCR operators, in memory, on generated videos with captions
and subtitles, and on one without text.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.door import Inference
from mediasift.inference.fallback import FallbackChain
from mediasift.inference.ocr import CHAIN as OCR_CHAIN
from mediasift.mediatype import MediaType
from mediasift.models.ocr import MODEL_FILES, OcrLine, TextReader
from mediasift.models.tesseract_ocr import TesseractReader
from mediasift.operators.keyframes import Keyframes
from mediasift.operators.ocr import Ocr, normalise, seen, similarity
from mediasift.operators.ocr_sampling import choose, scan, text_patches
from mediasift.operators.ocr_timing import Seen, Sighting, _Cutter, visible_spans
from mediasift.pipeline.operator import AssetView, Operator, OperatorContext
from mediasift.records import StoredSegment

from support import mediagen, shotgen

FPS = 25
SIZE = (480, 270)
BAR = (100, 200, 240, 40)  # x, y, w, h of the white bar the pixel tests look for


def _write(path: Path, frames: Iterator[np.ndarray], size: tuple[int, int] = SIZE) -> Path:
    return shotgen.write_frames(path, frames, size, fps=FPS)


def _bar_video(path: Path, seconds: float, brightness: Callable[[float], float]) -> Path:
    """Grey noise-free frames with a bar of ``brightness(t)`` (0-255) at ``BAR``; 0 draws none."""

    def frames() -> Iterator[np.ndarray]:
        x, y, w, h = BAR
        for index in range(round(seconds * FPS)):
            pixels = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
            pixels[:, : SIZE[0] // 2] = 60  # something that is not the bar, so frames are not blank
            if (level := brightness(index / FPS)) > 0:
                pixels[y : y + h, x : x + w] = round(level)
            yield pixels

    return _write(path, frames())


def _bright(crops: list[tuple[int, np.ndarray]]) -> list[Seen]:
    """The pixel test standing in for reading the box: a bright bar is the line."""
    return [Seen.SHOWN if crop.mean() > 172 else Seen.GONE for _, crop in crops]


def test_a_bar_that_pops_on_and_off_mid_shot_is_timed_to_its_frames(tmp_path: Path) -> None:
    video = _bar_video(tmp_path / "bar.mp4", 8.0, lambda t: 255 if 2.0 <= t < 5.0 else 0)
    timing = visible_spans(video, [Sighting(BAR, ("kf1",))], {"kf1": 3.0}, 8.0, SIZE, 0, _bright)
    (span,) = timing.spans
    assert span.start == pytest.approx(2.0, abs=0.1) and span.end == pytest.approx(5.0, abs=0.1), span
    # A sharp change either side of the keyframe: two reads an edge, not a read per frame.
    assert timing.reads <= 4, timing
    assert 16 <= timing.frames < 200  # every frame of the video but its B-frames


def test_a_fading_bar_is_found_by_bisection(tmp_path: Path) -> None:
    """No frame-to-frame jump: the bar brightens from 100 to 255 over 2-4 s (the test calls it shown
    above 172, at 2.93 s) and stays until the end."""
    video = _bar_video(tmp_path / "fade.mp4", 8.0, lambda t: 0 if t < 2.0 else min(255.0, 100 + 77.5 * (t - 2.0)))
    timing = visible_spans(video, [Sighting(BAR, ("kf1",))], {"kf0": 0.5, "kf1": 6.0}, 8.0, SIZE, 0, _bright)
    (span,) = timing.spans
    assert span.start == pytest.approx(2.93, abs=0.15), span
    assert span.end == 8.0  # on screen to the end of the video
    assert timing.reads <= 10, timing


def test_an_edge_whose_keyframe_frame_does_not_read_keeps_the_shot_bound(tmp_path: Path) -> None:
    """The check: a box that gives nothing anywhere, the keyframe's own frame included, is no timing."""
    video = _bar_video(tmp_path / "none.mp4", 4.0, lambda t: 0)
    timing = visible_spans(video, [Sighting(BAR, ("kf1",))], {"kf1": 2.0}, 4.0, SIZE, 0, _bright)
    assert [(span.start, span.end) for span in timing.spans] == [(None, None)]


def test_a_file_that_does_not_decode_keeps_the_shot_bounds(tmp_path: Path) -> None:
    junk = mediagen.make_random_bytes(tmp_path / "junk.mp4", 4096)
    timing = visible_spans(junk, [Sighting(BAR, ("kf1",))], {"kf1": 2.0}, 4.0, SIZE, 0, _bright)
    assert [(span.start, span.end) for span in timing.spans] == [(None, None)]


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_boxes_in_upright_keyframe_pixels_are_cut_from_the_stored_frame(rotation: int) -> None:
    """A phone video is stored turned; its keyframes are upright and smaller than the frame."""
    turns = rotation // 90
    stored = np.asarray(Image.fromarray(mediagen.photo("astronaut")).resize((640, 360)))
    upright = np.rot90(stored, k=-turns)  # as the keyframes operator turns it, clockwise
    keyframe = np.asarray(
        Image.fromarray(np.ascontiguousarray(upright)).resize((upright.shape[1] // 2, upright.shape[0] // 2))
    )
    frame = av.VideoFrame.from_ndarray(stored, format="rgb24").reformat(format="yuv420p")
    box = (30, 40, 90, 24)
    cut = _Cutter((keyframe.shape[1], keyframe.shape[0]), rotation).cut(frame, box, {})
    assert cut is not None
    crop, _ = cut
    x, y, w, h = box
    expected = keyframe[y : y + h, x : x + w].astype(int)
    assert crop.shape == expected.shape
    assert np.abs(crop.astype(int) - expected).mean() < 12  # colour conversion and scaling differ a little


def test_what_a_box_reads_against_its_line() -> None:
    line = normalise("Main Street Bakery")
    assert seen(normalise("Main Street Bakery"), line) is Seen.SHOWN
    assert seen(normalise("Main Stret Bakery"), line) is Seen.SHOWN  # a misread letter
    assert seen(normalise("treet BakeryJ"), line) is Seen.CUT  # the sign moved: its end is still in the box
    assert seen(normalise("Main Stre"), line) is Seen.CUT
    assert seen(normalise("Recorded in March"), line) is Seen.GONE  # another caption in its place
    assert seen("", line) is Seen.GONE


# ---------------------------------------------------------------- the operators on a captioned video

CAPTION = "Storm warning tonight"  # 2.0-5.0 s, inside the first shot (0-7 s)
LOWER_THIRD = "Harbour closed until Monday"  # 6.0-8.5 s, across the cut at 7 s
SHOTS = (("astronaut", 7.0), ("coffee", 2.5))


def _captioned(path: Path) -> Path:
    def frames() -> Iterator[np.ndarray]:
        index = 0
        for photo, seconds in SHOTS:
            backdrop = Image.fromarray(mediagen.photo(photo)).convert("RGB").resize(SIZE, Image.Resampling.BILINEAR)
            for _ in range(round(seconds * FPS)):
                t = index / FPS
                index += 1
                image = backdrop.copy()
                draw = ImageDraw.Draw(image, "RGBA")
                if 2.0 <= t < 5.0:
                    draw.text((SIZE[0] / 2, 40), CAPTION, fill=(255, 255, 255), font=mediagen.font(26), anchor="mm",
                              stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
                if 6.0 <= t < 8.5:
                    draw.rectangle((0, SIZE[1] - 64, SIZE[0], SIZE[1] - 16), fill=(0, 0, 0, 150))
                    draw.text((SIZE[0] / 2, SIZE[1] - 40), LOWER_THIRD, fill=(255, 255, 255), font=mediagen.font(24),
                              anchor="mm", stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
                yield np.asarray(image)

    return _write(path, frames())


def _run(
    operators: list[Operator], path: Path, settings: Settings, door: Inference | None = None
) -> list[StoredSegment]:
    """Run operators in order on a video, in memory; each reads what the ones before it produced. The
    models are reached through ``door`` (by default, one built from ``settings``)."""
    door = door or Inference(settings)
    segments: list[StoredSegment] = []
    blobs: dict[str, bytes] = {}

    def read_segments(*, operator: str | None = None, kind: str | None = None) -> list[StoredSegment]:
        return [s for s in segments if operator in (None, s.operator) and kind in (None, s.kind)]

    def put_blob(data: bytes, mime: str) -> str:
        blobs[sha := hashlib.sha256(data).hexdigest()] = data
        return sha

    for operator in operators:
        ctx = OperatorContext(
            asset=AssetView(uuid4(), MediaType.VIDEO, "video/mp4", "", {}),
            settings=settings,
            inference=door,
            params=operator.params(settings),
            media_path=path,
            read_segments=read_segments,
            read_blob=blobs.__getitem__,
            put_blob=put_blob,
        )
        for seg in operator.run(ctx).segments:
            segments.append(StoredSegment(len(segments), operator.name, seg.kind, seg.key, seg.start, seg.end,
                                          seg.region, seg.text, seg.confidence, seg.data))  # fmt: skip
    return segments


def _text_runs(segments: list[StoredSegment], text: str) -> list[StoredSegment]:
    wanted = normalise(text)
    return [s for s in segments if s.operator == "ocr" and s.text and similarity(normalise(s.text), wanted) >= 0.8]


@pytest.mark.slow
def test_captions_come_out_once_with_the_time_they_are_on_screen(tmp_path: Path) -> None:
    video = _captioned(tmp_path / "news.mp4")
    segments = _run([Keyframes(), Ocr()], video, Settings(home=tmp_path))
    for text, truth in ((CAPTION, (2.0, 5.0)), (LOWER_THIRD, (6.0, 8.5))):
        runs = _text_runs(segments, text)
        assert len(runs) == 1, [(s.text, s.start, s.end) for s in segments if s.operator == "ocr"]  # not repeated
        (run,) = runs
        assert run.start == pytest.approx(truth[0], abs=0.3) and run.end == pytest.approx(truth[1], abs=0.3), run
        assert run.data["start"] == run.start and run.data["end"] == run.end
        assert run.data["timing"] == {"start": "frames", "end": "frames"}
        seen_in = run.data["seen_in"]  # the shots whose keyframes showed it: what the range used to be
        assert seen_in[0] <= run.start + 0.3 and run.end - 0.3 <= seen_in[1]
        assert run.data["engine"] == TextReader.ref.id


@pytest.mark.slow
def test_a_caption_read_by_tesseract_keeps_its_shots_range(tmp_path: Path) -> None:
    """rapidocr's model files are broken, so tesseract reads the keyframes; the frames are not read
    (that takes rapidocr's recogniser), and the range stays the shots'."""
    broken = tmp_path / "rapidocr-models"
    broken.mkdir()
    for name in MODEL_FILES:
        (broken / name).write_bytes(b"not an onnx model" * 64)
    settings = Settings(home=tmp_path)
    door = Inference(settings)
    chain: FallbackChain[list[OcrLine]] = door.ocr_chain_with(
        TextReader(model_dir=broken).read, door.read_with_tesseract
    )
    video = _captioned(tmp_path / "news.mp4")
    segments = _run([Keyframes(), Ocr(chain=chain)], video, settings, door)
    ocr: list[dict[str, Any]] = [dict(s.data) for s in segments if s.operator == "ocr"]
    assert ocr and all(data["engine"] == TesseractReader.ref.id for data in ocr)
    assert all(data["timing"] == {"start": "shots", "end": "shots"} for data in ocr)
    assert all([data["start"], data["end"]] == data["seen_in"] for data in ocr)


# ---------------------------------------------------------------- frames between keyframes (ocr_sampling)

SUBTITLES = (
    ("Rescue boats arrived", 0.5, 3.5),
    ("The water began to fall", 3.5, 6.5),
    ("Cleanup starts Monday", 6.5, 9.5),
)


def _panning(path: Path, seconds: float, subtitles: tuple[tuple[str, float, float], ...] = ()) -> Path:
    """One shot: the camera pans across a photo; ``subtitles`` (text, start, end) are burned in low."""
    wide = Image.fromarray(mediagen.photo("chelsea")).convert("RGB").resize((round(SIZE[0] * 1.4), SIZE[1]))
    frames = round(seconds * FPS)

    def pictures() -> Iterator[np.ndarray]:
        for index in range(frames):
            left = round((wide.width - SIZE[0]) * index / max(1, frames - 1))
            image = wide.crop((left, 0, left + SIZE[0], SIZE[1]))
            draw = ImageDraw.Draw(image)
            for text, start, end in subtitles:
                if start <= index / FPS < end:
                    draw.text((SIZE[0] / 2, SIZE[1] - 30), text, fill=(255, 255, 255), font=mediagen.font(22),
                              anchor="mm", stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
            yield np.asarray(image)

    return _write(path, pictures())


def test_the_gate_sees_drawn_text_and_not_photos() -> None:
    for name in ("astronaut", "chelsea", "coffee", "rocket", "camera", "gravel", "grass", "brick", "coins"):
        for left in (0, 150):
            photo = Image.fromarray(mediagen.photo(name)).convert("L").resize((SIZE[0] + 150, SIZE[1]))
            luma = np.asarray(photo)[:, left : left + SIZE[0]]
            assert text_patches(np.ascontiguousarray(luma)) == (), (name, left)
    image = Image.fromarray(mediagen.photo("astronaut")).convert("RGB").resize(SIZE)
    ImageDraw.Draw(image).text((SIZE[0] / 2, SIZE[1] - 30), "The water began to fall", fill=(255, 255, 255),
                               font=mediagen.font(22), anchor="mm", stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
    patches = text_patches(np.asarray(image.convert("L")))
    assert len(patches) == 1
    _, y, w, h = patches[0].box
    assert 100 < w < 320 and 10 < h < 40 and y + h > SIZE[1] - 45, patches[0].box


def test_the_gate_picks_each_new_subtitle_once(tmp_path: Path) -> None:
    """Three subtitles in one shot whose keyframe shows the second: the first and third are new to the
    frames read, each once; the second, there from its start to the keyframe, costs nothing more."""
    video = _panning(tmp_path / "subtitles.mp4", 10.0, SUBTITLES)
    gate = scan(video, [5.0])
    assert len(gate.samples) == 10 and list(gate.keyframes) == [5.0]
    choice = choose(gate, per_minute=20)
    assert [round(sample.time) for sample in choice.chosen] == [1, 7], [s.time for s in choice.chosen]
    assert choice.refused == 0
    # a budget of one frame a minute: the first subtitle only; each sample of the third is turned away
    tight = choose(gate, per_minute=1)
    assert [round(sample.time) for sample in tight.chosen] == [1] and tight.refused == 3


def test_the_gate_picks_nothing_in_text_free_footage(tmp_path: Path) -> None:
    video = _panning(tmp_path / "pan.mp4", 8.0)
    gate = scan(video, [0.32])
    assert len(gate.samples) == 8
    assert all(not sample.patches for sample in gate.samples)
    assert choose(gate, per_minute=20).chosen == []


def test_text_the_next_keyframe_shows_is_not_read_again_unless_it_left_in_between(tmp_path: Path) -> None:
    """A caption on screen from the start of the shot to its keyframe is the keyframe's to read; one
    that leaves and comes back before the keyframe is read where it first shows."""
    steady = _panning(tmp_path / "steady.mp4", 6.0, (("Rescue boats arrived", 0.0, 6.0),))
    assert choose(scan(steady, [4.0]), per_minute=20).chosen == []
    back = _panning(
        tmp_path / "back.mp4", 6.0, (("Rescue boats arrived", 0.0, 1.5), ("Rescue boats arrived", 3.0, 6.0))
    )
    assert [round(sample.time) for sample in choose(scan(back, [4.0]), per_minute=20).chosen] == [0]


def _counted(counter: str) -> float:
    return stats.count(OCR_CHAIN, counter)


@pytest.mark.slow
def test_subtitles_inside_one_shot_come_out_once_each_in_order_with_their_time(tmp_path: Path) -> None:
    video = _panning(tmp_path / "subtitles.mp4", 10.0, SUBTITLES)
    samples, extra = _counted("gate_samples"), _counted("extra_frames")
    segments = _run([Keyframes(), Ocr()], video, Settings(home=tmp_path))
    assert len([s for s in segments if s.kind == "keyframe"]) == 1  # one shot, one keyframe: it shows one subtitle
    found = []
    for text, start, end in SUBTITLES:
        runs = _text_runs(segments, text)
        assert len(runs) == 1, [(s.text, s.start, s.end) for s in segments if s.operator == "ocr"]  # found, once
        (run,) = runs
        assert run.start == pytest.approx(start, abs=0.3) and run.end == pytest.approx(end, abs=0.3), run
        assert run.data["timing"] == {"start": "frames", "end": "frames"}
        found.append(run.id)
    assert found == sorted(found)  # in order: the operator emits its runs by start
    assert _counted("gate_samples") - samples == 10
    assert 2 <= _counted("extra_frames") - extra <= 3  # the subtitles the keyframe does not show, once each


@pytest.mark.slow
def test_text_free_video_reads_no_frame_between_keyframes(tmp_path: Path) -> None:
    video = _panning(tmp_path / "pan.mp4", 8.0)
    samples, extra, refused = _counted("gate_samples"), _counted("extra_frames"), _counted("extra_frames_refused")
    _run([Keyframes(), Ocr()], video, Settings(home=tmp_path))
    assert _counted("gate_samples") - samples == 8  # the gate looked ...
    assert _counted("extra_frames") == extra and _counted("extra_frames_refused") == refused  # ... and saw nothing
