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
    going = [columns[(7 * i) % 40] for i in range(40)]  # left out spread over the box, not from one end
    scored = []
    for left_out in range(0, 40):
        crop = _lines(sorted(set(columns) - set(going[:left_out])))
        scored.append((likeness(read, crop), crop))
    inside = min((pair for pair in scored if pair[0] >= 0.75), key=lambda pair: pair[0])
    past = max((pair for pair in scored if pair[0] < 0.75), key=lambda pair: pair[0])
    assert inside[0] < 0.8 and past[0] > 0.7  # two cases close either side of the line
    assert compare(read, inside[1]) is Seen.SHOWN
    assert compare(read, past[1]) is not Seen.SHOWN


def test_a_part_that_changed_is_read_from_0_3_under_the_whole() -> None:
    """A line whose number changed: alike as a whole (0.95), but where the number is (a part as wide as
    the box is high) its strokes no longer line up (0.53). A part 0.3 or more under the whole (past it)
    has the box read; less than 0.3 under it (inside) is the line."""
    read = _caption(_photo(0), "Line 14 capacity report")
    changed = _caption(_photo(0), "Line 21 capacity report")
    assert likeness(read, changed) >= box_match.SAME_LINE, "as a whole, the same line"
    assert compare(read, changed) is None, "read by the recogniser, which tells 14 from 21"
    rng = np.random.default_rng(3)
    columns = [*sorted(rng.choice(np.arange(50, 390), size=36, replace=False).tolist()), 12, 30]
    whole = _lines(sorted(columns))
    scored = []
    for moved in range(0, 21):  # the lines at 12 and 30 (the first part alone) moved right, a pixel more each time
        crop = _lines(sorted([c for c in columns if c >= 50] + [12 + moved, 30 + moved]))
        drop = likeness(whole, crop) - likeness(whole[:, :40], crop[:, :40])
        scored.append((drop, crop))
    inside = max((t for t in scored if t[0] < box_match.PART_DROP), key=lambda t: t[0])
    past = min((t for t in scored if t[0] >= box_match.PART_DROP), key=lambda t: t[0])
    assert compare(whole, inside[1]) is Seen.SHOWN
    assert compare(whole, past[1]) is None


def test_other_strokes_are_read_from_half_the_read_boxs_share() -> None:
    """A box that no longer shows its line but holds other strokes: 11 lines against the read box's 20
    (55%, inside the half) is read; 9 (45%, past it) is gone."""
    read = _lines(list(range(20, 220, 10)))  # 20 lines, evenly spaced
    other = [233, 251, 262, 281, 297, 309, 327, 341, 358, 366, 383]  # elsewhere, unevenly spaced
    assert likeness(read, _lines(other)) < 0.75
    assert compare(read, _lines(other)) is None
    assert compare(read, _lines(other[:9])) is Seen.GONE
