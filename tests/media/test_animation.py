"""The frames of an animated picture chosen for analysis (:mod:`mediasift.media.animation`):
pictures made here frame by frame, so which frames differ, and when each is shown, is known."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediasift.media.animation import CHANGE, MAX_FRAMES, distinct_frames

from support import mediagen


def _animate(path: Path, frames: list[np.ndarray], duration_ms: int = 100, **save: object) -> Path:
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0, **save)
    return path


def _grey(level: int, size: tuple[int, int] = (96, 64)) -> np.ndarray:
    return np.full((size[1], size[0], 3), level, np.uint8)


@pytest.mark.parametrize(("name", "save"), [("a.png", {}), ("a.webp", {"lossless": True})])
def test_a_frame_is_new_from_a_change_just_past_the_threshold(
    tmp_path: Path, name: str, save: dict[str, object]
) -> None:
    """Grey 100, then 100 + CHANGE (a change of CHANGE: the same frame), then 100 + CHANGE + 1 (one
    past it from the last frame kept: a new one)."""
    below, above = 100 + int(CHANGE), 100 + int(CHANGE) + 1
    path = _animate(tmp_path / name, [_grey(100), _grey(below), _grey(above)], **save)
    frames = distinct_frames(str(path), 2560)
    assert [(f.index, f.start, f.end) for f in frames] == [(0, 0.0, 0.2), (2, 0.2, 0.3)]
    assert int(frames[1].pixels.mean()) == above and frames[0].pixels.shape == (64, 96, 3)


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
