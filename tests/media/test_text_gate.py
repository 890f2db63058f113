"""The gate that picks frames between keyframes to read for text (:mod:`mediasift.media.text_gate`), on
photos and on generated videos with burned-in subtitles; no model is needed."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from mediasift.media.text_gate import Patch, choose, pictures, scan, text_patches

from support import mediagen, shotgen

SIZE = (480, 270)
SUBTITLES = (
    ("Rescue boats arrived", 0.5, 3.5),
    ("The water began to fall", 3.5, 6.5),
    ("Cleanup starts Monday", 6.5, 9.5),
)


def _panning(path: Path, seconds: float, subtitles: tuple[tuple[str, float, float], ...] = ()) -> Path:
    return shotgen.write_frames(path, shotgen.subtitled_pan(seconds, subtitles, SIZE), SIZE)


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


def test_an_anamorphic_video_is_looked_at_and_read_as_it_is_shown(tmp_path: Path) -> None:
    """The subtitled pan mastered 480x270, stored squeezed to 352x270 with 15:11 pixels: the gate
    picks what it picks in the square video, and the frames to read come out 480x270, as the
    keyframes do."""
    squeezed = (cv2.resize(frame, (352, 270), interpolation=cv2.INTER_AREA) for frame in
                shotgen.subtitled_pan(10.0, SUBTITLES, SIZE))  # fmt: skip
    video = shotgen.write_frames(tmp_path / "pal.mp4", squeezed, (352, 270), sample_aspect_ratio=Fraction(15, 11))
    gate = scan(video, [5.0])
    choice = choose(gate, per_minute=20)
    assert [round(sample.time) for sample in choice.chosen] == [1, 7], [s.time for s in choice.chosen]
    read = list(pictures(video, choice.chosen, gate.sync_times, max_side=480))
    assert [sample for sample, _ in read] == choice.chosen
    assert all(pixels.shape == (270, 480, 3) for _, pixels in read)


# ------------------------------------------------------------------- the gate's lines
#
# Strokes drawn to a chosen shape on black: 1-pixel vertical strokes every ``period`` pixels, ``h``
# rows tall, each row shifted ``shear`` pixels further right (a slanted block). Every stroke's edges
# reach one pixel past it on each side, so a block of h rows makes a patch h + 2 high. The boxes,
# edge shares and solidities in the docstrings were measured on these pictures.


def _strokes(w: int, h: int, *, period: int = 3, level: int = 255, shear: float = 0.0) -> np.ndarray:
    luma = np.zeros((300, 640), np.uint8)
    for row in range(h):
        left = 50 + round(shear * row)
        luma[60 + row, left : left + w : period] = level
    return luma


def _dots(dx: int, dy: int) -> np.ndarray:
    luma = np.zeros((300, 640), np.uint8)
    luma[60:72:dy, 50:170:dx] = 255
    return luma


def _boxes(luma: np.ndarray) -> list[tuple[int, int, int, int]]:
    return [patch.box for patch in text_patches(luma)]


def test_a_line_of_text_is_at_least_40_pixels_wide() -> None:
    """A 10-pixel-high patch 42 wide (inside the line) is text-like; 36 wide (past it) is not."""
    assert _boxes(_strokes(42, 8)) == [(49, 59, 42, 10)]
    assert _boxes(_strokes(34, 8)) == [], "36 x 10"


def test_a_line_of_text_is_at_least_2_5_times_as_wide_as_high() -> None:
    """30 high: 78 wide (2.6 times, inside the line) is text-like; 69 wide (2.3 times, past it) is not."""
    assert _boxes(_strokes(78, 28)) == [(49, 59, 78, 30)]
    assert _boxes(_strokes(68, 28)) == [], "69 x 30"


def test_a_line_of_text_is_8_to_80_pixels_high() -> None:
    """9 and 70 high (inside the lines) are text-like; 7 and 90 high (past them) are not."""
    assert _boxes(_strokes(60, 7)) == [(49, 59, 60, 9)]
    assert _boxes(_strokes(60, 5)) == [], "60 x 7"
    assert _boxes(_strokes(200, 68)) == [(49, 59, 201, 70)]
    assert _boxes(_strokes(240, 88)) == [], "240 x 90"


def test_text_strokes_have_a_contrast_of_150_grey_levels() -> None:
    """Strokes of grey level 165 on black (inside the line) are seen; 135 (past it) are not."""
    assert _boxes(_strokes(60, 10, level=165)) == [(49, 59, 60, 12)]
    assert _boxes(_strokes(60, 10, level=135)) == []


def test_a_line_of_text_is_dense_with_edges() -> None:
    """Dots 11 apart, every 4 rows: 13.3% of the patch is edges (inside the 12% line), text-like.
    14 apart: 10.7% (past it), not; the patch is as solid and as well shaped."""
    assert _boxes(_dots(11, 4)) == [(49, 59, 113, 11)]
    assert _boxes(_dots(14, 4)) == [], "115 x 11, 98.7% solid"


def test_a_line_of_text_fills_its_box() -> None:
    """A block of strokes 30 wide and 20 rows high, slanted: 2.25 pixels a row fills 44.6% of its
    box (inside the 40% line), text-like; 3.5 pixels a row fills 36.2% (past it), not."""
    assert _boxes(_strokes(30, 20, period=2, shear=2.25)) == [(49, 59, 74, 22)]
    assert _boxes(_strokes(30, 20, period=2, shear=3.5)) == [], "97 x 22, 33% edges"


def test_two_patches_are_the_same_strokes_from_a_cosine_of_0_75() -> None:
    """A patch's strokes against themselves with some missing: with 64% of them left the cosine of
    the two edge masks is 0.80 (inside the line: the same text); with 49% left, 0.70 (past it: other
    text). Scattered strokes, so no shift matches them better."""
    rng = np.random.default_rng(11)
    box = (100, 40, 120, 20)
    strokes = np.zeros((200, 400), np.uint8)
    strokes[40:60, 100:220] = rng.random((20, 120)) < 0.2
    ones = np.flatnonzero(strokes)
    patch = Patch.of(strokes, box)
    for kept, same in ((0.64, True), (0.49, False)):
        fewer = strokes.copy().reshape(-1)
        fewer[rng.choice(ones, size=round(len(ones) * (1 - kept)), replace=False)] = 0
        fewer = fewer.reshape(strokes.shape)
        cosine = (strokes & fewer).sum() / np.sqrt(strokes.sum() * fewer.sum())
        assert cosine == pytest.approx(np.sqrt(kept), abs=0.005)
        assert patch.same_as(Patch.of(fewer, box)) is same, cosine


def _line(text: str, size: tuple[int, int], font_size: int, noise: int = 0) -> Patch:
    """The one patch of ``text`` drawn white on a black band at the bottom of a picture of ``size``."""
    image = Image.new("L", size, 110)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, size[1] - 2 * font_size, size[0], size[1]), fill=0)
    draw.text((8, size[1] - 1.7 * font_size), text, fill=255, font=mediagen.font(font_size))
    luma = np.asarray(image, np.int16)
    if noise:  # coding noise: a few grey levels on every pixel
        luma = luma + np.random.default_rng(len(text)).integers(-noise, noise + 1, luma.shape)
    (patch,) = text_patches(np.clip(luma, 0, 255).astype(np.uint8))
    return patch


@pytest.mark.parametrize(("size", "font_size"), [((640, 360), 24), ((160, 120), 16)])
def test_a_line_whose_number_changed_is_new_text(size: tuple[int, int], font_size: int) -> None:
    """Alike as a whole (past ``SAME_STROKES``), a line whose number changed differs a character at
    a time (under ``LOCAL_SAME``): the gate reads it. The same line with coding noise does not."""
    for before, after in (("Line 14 capacity report", "Line 21 capacity report"), ("CHAPTER 3", "CHAPTER 4")):
        line = _line(before, size, font_size)
        assert not _line(after, size, font_size).same_as(line), (before, after, size)
        assert _line(before, size, font_size, noise=12).same_as(line), (before, size)
