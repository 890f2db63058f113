"""The frames of an animated picture (GIF, WebP, APNG) worth analysing: its first frame, and each
later one that shows something else, as a video's shots are found.

An animated picture is analysed like a short video, by its distinct frames: a GIF that shows a
caption only in its third second, or a face only in its last frames, is found by them. Frames are
walked in order (a GIF's frames are drawn over each other, so none can be decoded alone); each is
compared with the last one kept on a small grey copy, and kept when enough of it changed
(:data:`CHANGED_SHARE` of its pixels by more than :data:`CHANGE`). Past :data:`MAX_FRAMES` kept, an
even spread of them is analysed. The walk stops at :data:`MAX_WALKED` frames or
:data:`MAX_WALKED_PIXELS` pixels (a small file can hold many huge frames of one colour), or where a
frame cannot be decoded (a truncated file): what was decoded is analysed. Choosing the frames of a
400-frame 1280x720 GIF whose every frame changes took 4.4-4.8 s here (both walks), before the models
look at the 8 chosen.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mediasift.media.pictures import flattened

MAX_FRAMES = 8  # frames analysed at most: each costs every image model a picture
MAX_WALKED = 2000  # frames decoded at most (a 10-minute GIF at 4 frames a second is 2,400)
# Pixels decoded at most in the walk: a frame costs its whole canvas, ~11 s a gigapixel here, and a
# file of 0.3 MB held six 8000x8000 frames of one colour each (4.1 s). Past this many, the frames
# after are not looked at: 1,500 frames of 1 megapixel, 94 of 16.
MAX_WALKED_PIXELS = 1_500_000_000
# A frame is new when more than CHANGED_SHARE of its grey 96x96 copy's pixels differ from the last kept
# frame's by more than CHANGE levels (0-255). A share, not a mean: a meme's caption changing under
# the same photo (480x270) moved the mean of a 32x32 copy by 0.6-0.7 levels, while 2.3-3.4% of a 96x96
# copy's pixels changed by more than 24; dithering the same frame again (256 colours, then 64)
# changed none of them.
CHANGE = 24
CHANGED_SHARE = 0.005
PROBE_SIDE = 96
# A frame shown for no time (a GIF's 0 ms) is shown for this long by browsers.
SHOWN_AT_LEAST_MS = 20


@dataclass(frozen=True)
class Frame:
    """A frame kept: its index in the picture, when it starts and ends (seconds from the first
    frame), and its pixels as the image operators see them (:func:`flattened`)."""

    index: int
    start: float
    end: float
    pixels: np.ndarray


def distinct_frames(path: str, max_side: int) -> list[Frame]:
    """The frames of the animated picture at ``path`` to analyse (at least its first), in order.

    Two walks: the first finds the frames that change and when each is shown, the second decodes the
    chosen ones at full size, so memory holds one frame however many change."""
    with Image.open(path) as image, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a palette's transparency, a late frame's odd size: not news here
        changes, total_s = _changes(image)
        chosen = _spread(changes, MAX_FRAMES) or [(0, 0.0)]  # the first frame decoded at ingest
        ends = [start for _, start in chosen[1:]] + [total_s]
        found = []
        for (index, start), end in zip(chosen, ends, strict=True):
            image.seek(index)
            found.append(Frame(index, round(start, 3), round(end, 3), np.asarray(flattened(image.copy(), max_side))))
        return found


def _changes(image: Image.Image) -> tuple[list[tuple[int, float]], float]:
    """(index, start in seconds) of each frame that differs from the last such one (the first frame
    always), and how long the frames walked are shown in all."""
    changes: list[tuple[int, float]] = []
    last: np.ndarray | None = None
    clock_ms = 0.0
    canvas = max(1, image.width * image.height)
    for index in range(min(getattr(image, "n_frames", 1), MAX_WALKED, max(1, MAX_WALKED_PIXELS // canvas))):
        try:
            image.seek(index)
            image.load()
        except (OSError, ValueError, EOFError, Image.DecompressionBombError):
            break  # a truncated or corrupt later frame: the frames before it are analysed
        probe = np.asarray(image.convert("L").resize((PROBE_SIDE, PROBE_SIDE), Image.Resampling.BOX), np.int16)
        if last is None or float((np.abs(probe - last) > CHANGE).mean()) > CHANGED_SHARE:
            changes.append((index, clock_ms / 1000))
            last = probe
        clock_ms += max(float(image.info.get("duration") or 0), SHOWN_AT_LEAST_MS)
    return changes, clock_ms / 1000


def _spread(changes: list[tuple[int, float]], most: int) -> list[tuple[int, float]]:
    """``most`` of ``changes`` spread evenly over them, the first and the last among them."""
    if len(changes) <= most:
        return changes
    picks = np.linspace(0, len(changes) - 1, most).round().astype(int)
    return [changes[i] for i in picks]
