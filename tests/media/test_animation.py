"""The frames of an animated picture chosen for analysis (:mod:`mediasift.media.animation`):
pictures made here frame by frame, so which frames differ, and when each is shown, is known."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mediasift.media.animation import CHANGE, CHANGED_SHARE, MAX_FRAMES, PROBE_SIDE, distinct_frames

from support import mediagen


def _animate(path: Path, frames: list[np.ndarray], duration_ms: int = 100, **save: object) -> Path:
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0, **save)
    return path


def _grey(level: int, size: tuple[int, int] = (96, 64)) -> np.ndarray:
    return np.full((size[1], size[0], 3), level, np.uint8)


@pytest.mark.parametrize(("name", "save"), [("a.png", {}), ("a.webp", {"lossless": True})])
def test_a_frame_is_new_from_a_change_just_past_the_level(tmp_path: Path, name: str, save: dict[str, object]) -> None:
    """Grey 100, then 100 + CHANGE (every pixel changed by CHANGE: the same frame), then 100 + CHANGE
    + 1 (one level past it from the last frame kept: a new one)."""
    below, above = 100 + CHANGE, 100 + CHANGE + 1
    path = _animate(tmp_path / name, [_grey(100), _grey(below), _grey(above)], **save)
    frames = distinct_frames(str(path), 2560)
    assert [(f.index, f.start, f.end) for f in frames] == [(0, 0.0, 0.2), (2, 0.2, 0.3)]
    assert int(frames[1].pixels.mean()) == above and frames[0].pixels.shape == (64, 96, 3)


def test_a_frame_is_new_when_a_share_just_past_the_threshold_changed(tmp_path: Path) -> None:
    """960x960 frames, grey, with a white block of whole 10x10 cells (one pixel each of the 96x96
    copy): as many cells as CHANGED_SHARE of the copy is the same frame, one cell more is new."""
    cells = int(CHANGED_SHARE * PROBE_SIDE**2)  # 46 of 9,216: 0.499%

    def with_cells(count: int) -> np.ndarray:
        frame = _grey(60, (960, 960))
        for cell in range(count):
            row, column = divmod(cell, 40)
            frame[row * 10 : row * 10 + 10, column * 10 : column * 10 + 10] = 255
        return frame

    same = _animate(tmp_path / "same.png", [with_cells(0), with_cells(cells)])
    assert [f.index for f in distinct_frames(str(same), 2560)] == [0]
    new = _animate(tmp_path / "new.png", [with_cells(0), with_cells(cells + 1)])
    assert [f.index for f in distinct_frames(str(new), 2560)] == [0, 1]


def test_a_caption_changing_under_the_same_photo_is_a_new_frame(tmp_path: Path) -> None:
    """A meme: one photo, three captions at its foot, each shown twice, the second time with noise of
    up to 6 levels (so the GIF keeps both; dithered to its palette)."""
    photo = Image.fromarray(mediagen.photo("chelsea")).resize((480, 270))

    def captioned(text: str) -> np.ndarray:
        picture = photo.copy()
        ImageDraw.Draw(picture).text((240, 250), text, fill=(255, 255, 255), font=mediagen.font(22), anchor="mm",
                                     stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
        return np.asarray(picture)

    captions = [captioned(text) for text in ("WHEN THE FOOD BOWL", "IS HALF EMPTY", "AGAIN")]
    rng = np.random.default_rng(5)
    noisy = [np.clip(frame + rng.integers(-6, 7, frame.shape), 0, 255).astype(np.uint8) for frame in captions]
    path = _animate(tmp_path / "meme.gif", [f for pair in zip(captions, noisy, strict=True) for f in pair], 500)
    assert [(f.index, f.start) for f in distinct_frames(str(path), 2560)] == [(0, 0.0), (2, 1.0), (4, 2.0)]


def test_a_still_animation_is_one_frame_shown_for_all_its_time(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    noise = [rng.integers(-3, 4, (64, 96, 3)) for _ in range(12)]
    noisy = [np.clip(_grey(120).astype(int) + n, 0, 255).astype(np.uint8) for n in noise]
    (frame,) = distinct_frames(str(_animate(tmp_path / "still.gif", noisy, duration_ms=50)), 2560)
    assert (frame.index, frame.start, frame.end) == (0, 0.0, 0.6)


def test_many_changes_are_analysed_by_an_even_spread_from_first_to_last(tmp_path: Path) -> None:
    frames = [_grey(10 + 60 * (i % 4)) for i in range(20)]  # 20 frames, each 60 from the one before
    chosen = distinct_frames(str(_animate(tmp_path / "busy.gif", frames)), 2560)
    assert len(chosen) == MAX_FRAMES
    assert chosen[0].index == 0 and chosen[-1].index == 19
    assert [f.index for f in chosen] == sorted({f.index for f in chosen})
    assert chosen[-1].end == 2.0 and all(a.end == b.start for a, b in itertools.pairwise(chosen))


def test_a_truncated_animation_gives_the_frames_before_the_cut(tmp_path: Path) -> None:
    frames = [mediagen.gradient((160, 120), green=g) for g in (0, 120, 240)] + [_grey(30, (160, 120))] * 3
    path = _animate(tmp_path / "cut.gif", frames)
    whole = distinct_frames(str(path), 2560)
    assert [f.index for f in whole] == [0, 1, 2, 3]
    mediagen.truncate(path, 0.6)
    cut = distinct_frames(str(path), 2560)
    assert 1 <= len(cut) < len(whole) and [f.index for f in cut] == [f.index for f in whole][: len(cut)]


def test_the_walk_stops_at_its_pixel_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of 96x64 (6,144 pixels) under a budget of three frames' pixels: the fourth frame, which
    changes, is not looked at; with one pixel more than four frames, it is."""
    from mediasift.media import animation

    path = _animate(tmp_path / "steps.png", [_grey(20), _grey(22), _grey(24), _grey(200)])  # 3 alike, then new
    monkeypatch.setattr(animation, "MAX_WALKED_PIXELS", 3 * 96 * 64)
    assert [(f.index, f.end) for f in distinct_frames(str(path), 2560)] == [(0, 0.3)]
    monkeypatch.setattr(animation, "MAX_WALKED_PIXELS", 4 * 96 * 64 + 1)
    assert [f.index for f in distinct_frames(str(path), 2560)] == [0, 3]
