"""The gate that picks frames between keyframes to read for text (:mod:`mediasift.media.text_gate`), on
photos and on generated videos with burned-in subtitles; no model is needed."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from mediasift.media.text_gate import choose, pictures, scan, text_patches

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
