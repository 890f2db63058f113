"""The text-presence gate of the OCR reader: a large picture is looked at shrunk to ``GATE_SIDE``
first, and detected at full size only where that finds a line (:mod:`mediasift.models.ocr`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from mediasift.models.ocr import (
    DETECT_LINE_PX,
    DETECT_SCALE,
    DETECT_SCALE_LEAST,
    GATE_ABOVE,
    GATE_MAX_HEIGHT,
    GATE_MIN_ASPECT,
    GATE_SIDE,
    TextReader,
    detect_scale,
    line_shaped,
)
from mediasift.models.weights import Lazy

from support import mediagen, scenegen

LINE = "Harbour market opens today"


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader().load()


def _picture(size: tuple[int, int], font_px: int = 0, background: np.ndarray | None = None) -> np.ndarray:
    image = Image.fromarray(background) if background is not None else Image.new("RGB", size, (90, 90, 90))
    if font_px:
        ImageDraw.Draw(image).text(
            (size[0] // 8, size[1] // 2), LINE, fill=(255, 255, 255), font=mediagen.font(font_px)
        )
    return np.asarray(image)


def test_a_text_free_photo_costs_no_full_size_detection(reader: TextReader) -> None:
    """A photo, and textures the shrunk detector likes (it finds regions in them, of no line's shape)."""
    for name in ("astronaut", "brick", "gravel"):
        photo = scenegen.cover(mediagen.photo(name), (1600, 1067))
        found = reader.detect(photo)
        assert found.gated and found.detected is None and reader.read(photo) == [], name
    photo = scenegen.cover(mediagen.photo("astronaut"), (1600, 1067))
    captioned = _picture((1600, 1067), 40, photo)
    assert not reader.detect(captioned).gated
    assert [line.text for line in reader.read(captioned)] == [LINE]


def test_the_gate_looks_at_pictures_larger_than_960_pixels(reader: TextReader) -> None:
    """A plain 960-pixel picture (the limit, inside it) is detected at full size; 962 (past it) is gated."""
    assert GATE_ABOVE == 960
    assert not reader.detect(_picture((960, 600))).gated
    assert reader.detect(_picture((962, 600))).gated


@pytest.mark.parametrize("size", [(1600, 1000), (1920, 1080)])
def test_the_gate_sees_every_line_of_16_pixels_and_more(reader: TextReader, size: tuple[int, int]) -> None:
    """Letters of 16 to 40 px pass the gate; 10 px (past what the shrunk detector sees) do not. The
    full-size detection needs 16 px: the gate loses no line it would have read."""
    assert [px for px in range(16, 41) if reader.detect(_picture(size, px)).gated] == []
    assert reader.detect(_picture(size, 10)).gated
    assert [line.text for line in reader.read(_picture(size, 16))] == [LINE]
    assert TextReader(gate_above=10**6).read(_picture(size, 12)) == []  # ungated: not read either


def _rect(long: float, short: float) -> np.ndarray:
    """A detected region's polygon: a box ``long`` x ``short``, turned 10 degrees as slanted text is."""
    return cv2.boxPoints(((300.0, 200.0), (long, short), 10.0))


def test_a_region_is_line_shaped_from_an_aspect_of_1_5() -> None:
    """Three letters come out at about 1.9 (inside); 1.52 is in, 1.48 (past it: two digits, a blob) is out."""
    assert GATE_MIN_ASPECT == 1.5
    assert line_shaped(_rect(152, 100), 400) and line_shaped(_rect(190, 100), 400)
    assert not line_shaped(_rect(148, 100), 400)


def test_a_line_shaped_region_is_at_most_half_the_picture_high() -> None:
    """In a picture 400 high: 198 high is a line (inside); 204 (past it: a band of texture) is not."""
    assert GATE_MAX_HEIGHT == 0.5
    assert line_shaped(_rect(600, 198), 400)
    assert not line_shaped(_rect(600, 204), 400)


def test_only_the_part_of_a_large_picture_that_holds_lines_is_detected_at_full_size(reader: TextReader) -> None:
    """One caption: the strip around it is detected (its lines in the picture's pixels). Lines at the
    top left and the bottom right: their hull is half the picture or more, so the whole of it is
    detected."""
    photo = scenegen.cover(mediagen.photo("astronaut"), (1600, 1000))
    one = _picture((1600, 1000), 40, photo)  # the line at y 500, x 200
    found = reader.detect(one)
    assert found.offset != (0, 0) and found.width * found.height < 0.5 * 1600 * 1000
    (line,) = reader.read(one)
    assert line.text == LINE and abs(line.box[0] - 200) < 12 and abs(line.box[1] + line.box[3] / 2 - 525) < 20
    image = Image.fromarray(photo)
    for left, top in ((100, 60), (800, 900)):
        ImageDraw.Draw(image).text((left, top), LINE, fill=(255, 255, 255), font=mediagen.font(40))
    two = np.asarray(image)
    found = reader.detect(two)
    assert found.offset == (0, 0) and (found.width, found.height) == (1600, 1000)
    assert [line.text for line in reader.read(two)] == [LINE, LINE]


def _two_lines(size: tuple[int, int], font_px: int, corners: tuple[tuple[int, int], ...]) -> np.ndarray:
    """A photo with ``LINE`` at two far corners: their hull is the whole picture, detected whole."""
    image = Image.fromarray(scenegen.cover(mediagen.photo("astronaut"), size))
    for left, top in corners:
        ImageDraw.Draw(image).text((left, top), LINE, fill=(255, 255, 255), font=mediagen.font(font_px))
    return np.asarray(image)


def _seen_by_detector(reader: TextReader, picture: np.ndarray) -> list[tuple[int, int]]:
    """The width and height of each picture the detector saw while ``reader`` detected ``picture``."""
    shapes: list[tuple[int, int]] = []
    session, gate = reader.engine.text_det.session, reader._gate

    def recorded(network: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
        def run(batch: np.ndarray) -> np.ndarray:
            shapes.append((batch.shape[3], batch.shape[2]))
            return network(batch)

        return run

    reader.engine.text_det.session = recorded(session)
    recording_gate = replace(gate.get(), network=recorded(gate.get().network))
    reader._gate = Lazy(lambda: recording_gate)
    try:
        reader.detect(picture)
    finally:
        reader.engine.text_det.session, reader._gate = session, gate
    return shapes


def test_a_large_picture_with_text_is_detected_at_0_8_of_its_size_and_its_lines_cut_at_full_size() -> None:
    """The detector sees the gate's copy (640 a side), then, for 20 px letters (boxes the gate sees
    20-28 px high, at most DETECT_LINE_PX / 0.8), the picture shrunk to 0.8 (1280 of 1600); the lines go to the
    recogniser cut from the picture's own pixels (crops as high as at full size, not 0.8 of it). A 962-pixel
    picture (just past the gate's 960) is shrunk to 0.8 too (768, in the detector's steps of 32); a
    960-pixel one (inside) is not gated, and rapidocr detects it larger, as it always did (its
    shorter side at 736)."""
    assert DETECT_SCALE == 0.8
    reader = TextReader().load()
    picture = _two_lines((1600, 1000), 20, ((100, 60), (800, 900)))
    shapes = _seen_by_detector(reader, picture)
    assert max(shapes[0]) <= GATE_SIDE and shapes[1] == (1280, 800)
    found = reader.detect(picture)
    assert len(found.crops) == 2 and all(crop.shape[0] >= 20 for crop in found.crops)
    assert [line.text for line in reader.read(picture)] == [LINE, LINE]
    for width, seen in ((962, 768), (960, 1184)):  # rapidocr: 600 high -> 736, so 960 wide -> 1184
        assert max(_seen_by_detector(reader, _two_lines((width, 600), 20, ((40, 30), (460, 540))))[-1]) == seen, width


def test_a_picture_of_tall_lines_is_detected_smaller_and_still_read() -> None:
    """40 px letters: the gate's boxes are about 45 px high, so the detector sees the picture shrunk
    until the shortest is DETECT_LINE_PX high (about 0.6, half the cost at 0.8), and reads both
    lines; cut from the picture's own pixels, the crops stay over 40 px high."""
    reader = TextReader().load()
    picture = _two_lines((1600, 1000), 40, ((100, 60), (800, 900)))
    shapes = _seen_by_detector(reader, picture)
    assert DETECT_SCALE_LEAST * 1600 <= shapes[1][0] <= 0.65 * 1600
    found = reader.detect(picture)
    assert len(found.crops) == 2 and all(crop.shape[0] > 40 for crop in found.crops)
    assert [line.text for line in reader.read(picture)] == [LINE, LINE]


def test_the_detection_scale_follows_the_shortest_line() -> None:
    assert detect_scale(DETECT_LINE_PX / DETECT_SCALE) == DETECT_SCALE  # the line at the limit
    assert detect_scale(DETECT_LINE_PX / DETECT_SCALE + 1) < DETECT_SCALE  # just past it: smaller
    assert detect_scale(10) == DETECT_SCALE  # short lines never above 0.8
    assert detect_scale(DETECT_LINE_PX / 0.5) == pytest.approx(0.5)
    assert detect_scale(DETECT_LINE_PX / DETECT_SCALE_LEAST + 1) == DETECT_SCALE_LEAST  # never below
