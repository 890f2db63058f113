"""When a line of text is on screen: the frame search of :mod:`mediasift.media.text_tracking` over real
decoded video, with a plain pixel test for "the box shows the line" (a white bar on grey), so no model
is needed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from mediasift.media.text_tracking import Seen, Sighting, _Cutter, visible_spans
from mediasift.media.video import VideoSource

from support import mediagen, shotgen

FPS = 25
SIZE = (480, 270)
BAR = (100, 200, 240, 40)  # x, y, w, h of the white bar the pixel tests look for


def _bar_video(
    path: Path, seconds: float, brightness: Callable[[float], float], rotation: int = 0, aspect: Fraction | None = None
) -> Path:
    """Grey noise-free frames with a bar of ``brightness(t)`` (0-255) at ``BAR``; 0 draws none."""

    def frames() -> Iterator[np.ndarray]:
        x, y, w, h = BAR
        for index in range(round(seconds * FPS)):
            pixels = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
            pixels[:, : SIZE[0] // 2] = 60  # something that is not the bar, so frames are not blank
            if (level := brightness(index / FPS)) > 0:
                pixels[y : y + h, x : x + w] = round(level)
            yield pixels

    return shotgen.write_frames(path, frames(), SIZE, fps=FPS, rotation=rotation, sample_aspect_ratio=aspect)


def _bright(crops: list[tuple[int, np.ndarray]]) -> list[Seen]:
    """The pixel test standing in for reading the box: a bright bar is the line."""
    return [Seen.SHOWN if crop.mean() > 172 else Seen.GONE for _, crop in crops]


def test_a_bar_that_pops_on_and_off_mid_shot_is_timed_to_its_frames(tmp_path: Path) -> None:
    video = _bar_video(tmp_path / "bar.mp4", 8.0, lambda t: 255 if 2.0 <= t < 5.0 else 0)
    timing = visible_spans(video, [Sighting(BAR, ("kf1",))], {"kf1": 3.0}, 8.0, SIZE, _bright)
    (span,) = timing.spans
    assert span.start == pytest.approx(2.0, abs=0.1) and span.end == pytest.approx(5.0, abs=0.1), span
    # A sharp change either side of the keyframe: two reads an edge, not a read per frame.
    assert timing.reads <= 4, timing
    assert 16 <= timing.frames < 200  # every frame of the video but its B-frames


def test_a_fading_bar_is_found_by_bisection(tmp_path: Path) -> None:
    """No frame-to-frame jump: the bar brightens from 100 to 255 over 2-4 s (the test calls it shown
    above 172, at 2.93 s) and stays until the end."""
    video = _bar_video(tmp_path / "fade.mp4", 8.0, lambda t: 0 if t < 2.0 else min(255.0, 100 + 77.5 * (t - 2.0)))
    timing = visible_spans(video, [Sighting(BAR, ("kf1",))], {"kf0": 0.5, "kf1": 6.0}, 8.0, SIZE, _bright)
    (span,) = timing.spans
    assert span.start == pytest.approx(2.93, abs=0.15), span
    assert span.end == 8.0  # on screen to the end of the video
    assert timing.reads <= 10, timing


def test_an_edge_whose_keyframe_frame_does_not_read_keeps_the_shot_bound(tmp_path: Path) -> None:
    """The check: a box that gives nothing anywhere, the keyframe's own frame included, is no timing."""
    video = _bar_video(tmp_path / "none.mp4", 4.0, lambda t: 0)
    timing = visible_spans(video, [Sighting(BAR, ("kf1",))], {"kf1": 2.0}, 4.0, SIZE, _bright)
    assert [(span.start, span.end) for span in timing.spans] == [(None, None)]


def test_a_file_that_does_not_decode_keeps_the_shot_bounds(tmp_path: Path) -> None:
    junk = mediagen.make_random_bytes(tmp_path / "junk.mp4", 4096)
    timing = visible_spans(junk, [Sighting(BAR, ("kf1",))], {"kf1": 2.0}, 4.0, SIZE, _bright)
    assert [(span.start, span.end) for span in timing.spans] == [(None, None)]


def test_a_box_in_the_pictures_of_a_turned_anamorphic_video_is_tracked_in_its_frames(tmp_path: Path) -> None:
    """The box is found where the video source shows the bar (turned, stretched 4:3 wide): the frames
    it is tracked in are cut at that same place."""
    video = _bar_video(tmp_path / "turned.mp4", 8.0, lambda t: 255 if 2.0 <= t < 5.0 else 0, 90, Fraction(4, 3))
    with VideoSource(video) as source:
        (_, picture), *_ = source.frames_at([3.0])
        size = source.display_size
    assert size == (270, 640) and picture.shape == (640, 270, 3)
    rows, columns = np.nonzero(picture.min(axis=2) > 200)
    box = (int(columns.min()) + 2, int(rows.min()) + 2, int(np.ptp(columns)) - 3, int(np.ptp(rows)) - 3)
    assert box[2] == pytest.approx(40, abs=5) and box[3] == pytest.approx(320, abs=5)  # 40 high, 240 * 4/3 wide
    timing = visible_spans(video, [Sighting(box, ("kf1",))], {"kf1": 3.0}, 8.0, size, _bright)
    (span,) = timing.spans
    assert span.start == pytest.approx(2.0, abs=0.1) and span.end == pytest.approx(5.0, abs=0.1), span


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("aspect", [Fraction(1), Fraction(16, 11)], ids=["square", "anamorphic"])
def test_boxes_in_upright_keyframe_pixels_are_cut_from_the_stored_frame(rotation: int, aspect: Fraction) -> None:
    """A phone video is stored turned, an anamorphic one squeezed; its keyframes are upright, at
    display aspect and smaller than the frame."""
    turns = rotation // 90
    shown = np.asarray(Image.fromarray(mediagen.photo("astronaut")).resize((round(640 * aspect), 360)))
    stored = np.asarray(Image.fromarray(shown).resize((640, 360)))  # squeezed back to its stored pixels
    upright = np.rot90(shown, k=-turns)  # as the video source turns it, clockwise
    keyframe = np.asarray(
        Image.fromarray(np.ascontiguousarray(upright)).resize((upright.shape[1] // 2, upright.shape[0] // 2))
    )
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24").reformat(format="yuv420p")
    box = (30, 40, 90, 24)
    cut = _Cutter((keyframe.shape[1], keyframe.shape[0]), rotation).cut(frame, box, {})
    assert cut is not None
    crop, _ = cut
    x, y, w, h = box
    expected = keyframe[y : y + h, x : x + w].astype(int)
    assert crop.shape == expected.shape
    assert np.abs(crop.astype(int) - expected).mean() < 12  # colour conversion and scaling differ a little
