"""Telling by its box's pixels whether a line read in one frame is in another
(:mod:`mediasift.media.box_match`): each threshold with a case inside it and one just past it."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mediasift.media import box_match
from mediasift.media.box_match import compare, gradient, likeness
from mediasift.media.text_tracking import Seen

from support import mediagen, scenegen

BOX = (40, 400)  # height, width


def _caption(background: np.ndarray, text: str, level: int = 255) -> np.ndarray:
    """A caption as the benchmarks draw one: letters on a dark band, over ``background``."""
    image = Image.fromarray((background * 0.3).astype(np.uint8))
    ImageDraw.Draw(image).text((10, 20), text, fill=(level, level, level), font=mediagen.font(26), anchor="lm")
    return np.asarray(image)


def _photo(left: int) -> np.ndarray:
    return np.ascontiguousarray(scenegen.cover(mediagen.photo("chelsea"), (800, 200))[60:100, left : left + 400])


def test_a_caption_over_a_moving_picture_is_told_by_its_pixels() -> None:
    read = _caption(_photo(0), "Storm warning tonight")
    noisy = np.clip(
        _caption(_photo(40), "Storm warning tonight") + np.random.default_rng(1).normal(0, 6, (*BOX, 3)), 0, 255
    )
    assert compare(read, noisy.astype(np.uint8)) is Seen.SHOWN  # the picture moved under it, coding noise
    assert compare(read, _photo(40)) is Seen.GONE  # the band and the letters left: nothing text-like there
    assert compare(read, _caption(_photo(0), "Harbour closed Monday")) is None  # other text: read it
    assert compare(_caption(_photo(0), "Faint letters", level=110), _photo(0)) is None  # too faint to tell


def _lines(columns: list[int], size: tuple[int, int] = BOX) -> np.ndarray:
    """White one-pixel vertical lines at ``columns`` on black: each makes 3 columns of stroke edges."""
    rgb = np.zeros((*size, 3), np.uint8)
    rgb[:, columns] = 255
    return rgb


def test_a_box_is_told_by_pixels_from_4_percent_of_stroke_edges() -> None:
    """6 lines in 400 columns are 4.5% stroke edges (inside the line): told; 5 are 3.75% (past it): read."""
    six, five = _lines([50, 110, 170, 230, 290, 350]), _lines([50, 110, 170, 230, 290])
    assert box_match.stroke_share(gradient(six)) == 0.045 and box_match.stroke_share(gradient(five)) == 0.0375
    assert compare(six, six) is Seen.SHOWN
    assert compare(five, five) is None


def test_the_same_line_from_a_likeness_of_0_75() -> None:
    """The read box's lines with some left out: the correlation falls as they go; 0.75 and above is
    the line (inside), below is not (past it)."""
    rng = np.random.default_rng(5)
    columns = sorted(rng.choice(np.arange(10, 390), size=40, replace=False).tolist())
    read = _lines(columns)
    scored = []
    for kept in range(40, 0, -1):
        crop = _lines(columns[:kept])
        scored.append((likeness(read, crop), crop))
    inside = min((pair for pair in scored if pair[0] >= 0.75), key=lambda pair: pair[0])
    past = max((pair for pair in scored if pair[0] < 0.75), key=lambda pair: pair[0])
    assert inside[0] < 0.8 and past[0] > 0.7  # two cases close either side of the line
    assert compare(read, inside[1]) is Seen.SHOWN
    assert compare(read, past[1]) is not Seen.SHOWN


def test_other_strokes_are_read_from_half_the_read_boxs_share() -> None:
    """A box that no longer shows its line but holds other strokes: 11 lines against the read box's 20
    (55%, inside the half) is read; 9 (45%, past it) is gone."""
    read = _lines(list(range(20, 220, 10)))  # 20 lines, evenly spaced
    other = [233, 251, 262, 281, 297, 309, 327, 341, 358, 366, 383]  # elsewhere, unevenly spaced
    assert likeness(read, _lines(other)) < 0.75
    assert compare(read, _lines(other)) is None
    assert compare(read, _lines(other[:9])) is Seen.GONE
