"""On-screen text in video comes out with the time range it is visible.

The frame search (:mod:`mediasift.media.text_tracking`) and the gate that picks frames between
keyframes to read (:mod:`mediasift.media.text_gate`) are tested in ``tests/media``. Here: what a box
reads against its line, and, in the slow tests, the real keyframes and OCR operators, in memory, on
generated videos with captions and subtitles, and on one without text.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mediasift.config import Settings
from mediasift.inference import stats
from mediasift.inference.door import Inference
from mediasift.inference.fallback import FallbackChain
from mediasift.inference.ocr import CHAIN as OCR_CHAIN
from mediasift.media.text_tracking import Seen
from mediasift.mediatype import MediaType
from mediasift.models.ocr import MODEL_FILES, OcrLine, TextReader
from mediasift.models.tesseract_ocr import TesseractReader
from mediasift.operators.keyframes import Keyframes
from mediasift.operators.ocr import Ocr, normalise, seen, similarity
from mediasift.pipeline.operator import AssetView, Operator, OperatorContext
from mediasift.records import StoredSegment

from support import mediagen, shotgen

FPS = 25
SIZE = (480, 270)


def _write(path: Path, frames: Iterator[np.ndarray], size: tuple[int, int] = SIZE) -> Path:
    return shotgen.write_frames(path, frames, size, fps=FPS)


def test_what_a_box_reads_against_its_line() -> None:
    line = normalise("Main Street Bakery")
    assert seen(normalise("Main Street Bakery"), line) is Seen.SHOWN
    assert seen(normalise("Main Stret Bakery"), line) is Seen.SHOWN  # a misread letter
    assert seen(normalise("treet BakeryJ"), line) is Seen.CUT  # the sign moved: its end is still in the box
    assert seen(normalise("Main Stre"), line) is Seen.CUT
    assert seen(normalise("Recorded in March"), line) is Seen.GONE  # another caption in its place
    assert seen("", line) is Seen.GONE
    platform = normalise("Next train: platform 7")
    assert seen(normalise("Next train: platform 14"), platform) is Seen.GONE, "a number that changed: other text"
    assert seen(normalise("Next train: plattform 7"), platform) is Seen.SHOWN, "a misread letter"
    assert similarity(normalise("CLOSED"), normalise("CL0SED")) >= 0.8, "an O read as 0: one side has no number"


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
            put_file=lambda path, mime: put_blob(path.read_bytes(), mime),
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
        # the shots whose frames read showed it (what the range used to be): a lower third that comes
        # up mid-shot is no cut, so the shot it starts in may have been read before it came up
        seen_in = run.data["seen_in"]
        assert seen_in[0] < run.end and run.start < seen_in[1] and run.end - 0.3 <= seen_in[1]
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


# ---------------------------------------------------------------- frames between keyframes

SUBTITLES = (
    ("Rescue boats arrived", 0.5, 3.5),
    ("The water began to fall", 3.5, 6.5),
    ("Cleanup starts Monday", 6.5, 9.5),
)


def _panning(path: Path, seconds: float, subtitles: tuple[tuple[str, float, float], ...] = ()) -> Path:
    """One shot: the camera pans across a photo; ``subtitles`` (text, start, end) are burned in low."""
    return _write(path, shotgen.subtitled_pan(seconds, subtitles, SIZE, FPS))


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


COUNTER = (
    ("Line 7 capacity report", 0.5, 3.5),
    ("Line 14 capacity report", 3.5, 6.5),
    ("Line 21 capacity report", 6.5, 9.5),
)


@pytest.mark.slow
def test_a_line_whose_number_changes_is_timed_to_its_own_number(tmp_path: Path) -> None:
    """A counter in one shot: the words stay and the number changes. Alike but for it, the lines were
    one line on screen for the whole shot, read as whichever number a frame read showed; the box that
    read "Line 21" where "Line 14" was counted as a piece of it (the line moved), not as gone."""
    video = _panning(tmp_path / "counter.mp4", 10.0, COUNTER)
    segments = _run([Keyframes(), Ocr()], video, Settings(home=tmp_path))
    shown = {s.text: (s.start, s.end) for s in segments if s.operator == "ocr" and s.text}
    truth = {text: (start, end) for text, start, end in COUNTER}
    assert set(shown) >= {"Line 7 capacity report", "Line 14 capacity report"}, shown
    for text, (start, end) in shown.items():
        assert (start, end) == pytest.approx(truth[text], abs=0.3), (text, start, end)


@pytest.mark.slow
def test_every_number_of_a_counter_is_read(tmp_path: Path) -> None:
    """14 to 21 changes two digits of a 23-character line: alike as a whole (``SAME_STROKES``), the
    text gate took the patch for the one read before, and "Line 21" was never read; it is not alike
    where the number is (``LOCAL_SAME``), so a frame of it is read."""
    video = _panning(tmp_path / "counter.mp4", 10.0, COUNTER)
    segments = _run([Keyframes(), Ocr()], video, Settings(home=tmp_path))
    assert [s.text for s in segments if s.operator == "ocr" and s.text] == [text for text, _, _ in COUNTER]


@pytest.mark.slow
def test_text_free_video_reads_no_frame_between_keyframes(tmp_path: Path) -> None:
    video = _panning(tmp_path / "pan.mp4", 8.0)
    samples, extra, refused = _counted("gate_samples"), _counted("extra_frames"), _counted("extra_frames_refused")
    _run([Keyframes(), Ocr()], video, Settings(home=tmp_path))
    assert _counted("gate_samples") - samples == 8  # the gate looked ...
    assert _counted("extra_frames") == extra and _counted("extra_frames_refused") == refused  # ... and saw nothing


@pytest.mark.slow
def test_a_caption_on_screen_for_1_5_s_in_the_middle_of_a_long_shot_is_found_with_its_time(tmp_path: Path) -> None:
    """20 s of one panning shot (one keyframe, not in the caption); the caption is on from 9.0 to 10.5 s."""
    video = _panning(tmp_path / "long.mp4", 20.0, (("Bridge closed for repairs", 9.0, 10.5),))
    pixels, reads = _counted("track_pixel_verdicts"), _counted("track_reads")
    segments = _run([Keyframes(), Ocr()], video, Settings(home=tmp_path))
    runs = _text_runs(segments, "Bridge closed for repairs")
    assert len(runs) == 1, [(s.text, s.start, s.end) for s in segments if s.operator == "ocr"]
    (run,) = runs
    assert run.start == pytest.approx(9.0, abs=0.3) and run.end == pytest.approx(10.5, abs=0.3), run
    assert run.data["timing"] == {"start": "frames", "end": "frames"}
    # Its edges were found by comparing the box's pixels, not by reading it again.
    assert _counted("track_pixel_verdicts") - pixels >= 4 and _counted("track_reads") - reads <= 2


PAGE_SIZE = (960, 540)


def _page_in_a_pan(seconds: float) -> Iterator[np.ndarray]:
    """One shot panning across a printed page (scikit-image's ``page``): its lines move with the picture."""
    width, height = PAGE_SIZE
    page = Image.fromarray(mediagen.photo("page")).convert("RGB")
    wide = page.resize((round(width * 1.6), round(page.height * width * 1.6 / page.width)))
    top = max(0, (wide.height - height) // 2)
    frames = round(seconds * FPS)
    for index in range(frames):
        left = round((wide.width - width) * index / max(1, frames - 1))
        yield np.asarray(wide.crop((left, top, left + width, top + height)))


@pytest.mark.slow
def test_text_that_moves_with_the_picture_is_read_at_most_the_budget_and_keeps_the_shots_range(
    tmp_path: Path,
) -> None:
    """A printed page in a 6 s pan: the boxes its lines were read in hold other pieces of the page a
    little either side of the keyframe, which neither their pixels nor a read settle. Each line's
    box is read at most TRACK_READS_PER_LINE times, and a line the budget gave up on keeps the shot's
    bounds (the page is on screen all along)."""
    from mediasift.operators.ocr import TRACK_READS_PER_LINE

    video = _write(tmp_path / "page.mp4", _page_in_a_pan(6.0), PAGE_SIZE)
    reads, refused = _counted("track_reads"), _counted("track_reads_refused")
    segments = _run([Keyframes(), Ocr()], video, Settings(home=tmp_path))
    lines = [s for s in segments if s.operator == "ocr"]
    assert lines
    assert _counted("track_reads_refused") - refused >= 1, "no line ran out of its budget"
    assert _counted("track_reads") - reads <= TRACK_READS_PER_LINE * len(lines)
    assert all(0.0 <= s.start < s.end <= 6.05 for s in lines)
    assert any((s.start, s.end) == (0.0, pytest.approx(6.0, abs=0.05)) for s in lines), [
        (s.text, s.start, s.end) for s in lines
    ]
