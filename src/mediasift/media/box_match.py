"""Whether a line of text read in one frame is still in its box in another, by the pixels alone.

Timing a line (:mod:`mediasift.media.text_tracking`) asks, frame after frame, whether the box a line
was read in still shows it. Reading the box again costs the recogniser (tens of milliseconds a
crop); comparing its pixels with the box as it was read costs a fraction of a millisecond. Drawn
text is told by its strokes: edges where the luma jumps by ``STROKE_CONTRAST`` or more within a
pixel or two (the text gate's test, :mod:`mediasift.media.text_gate`), which a background moving
under a caption hardly has. The box shows the line when its luma correlates with the box as read
(the normalised correlation at the best shift of up to ``SHIFT`` pixels, for coding noise and a
pixel of jitter) at ``SAME_LINE`` or more as a whole, and no part (a letter and a half wide) with
strokes falls ``PART_DROP`` under that (a number that changed is a part that no longer lines up: it
is read). The letters dominate the box's contrast, so the background moving under them hardly lowers
it (a caption against itself over a pan: 0.91-0.97), while other letters at the same place do not
line up (two subtitles at one place: 0.23-0.26; gradient or stroke-mask cosines, tried first, gave
those 0.78 and 0.82). It does not show the line when the correlation is lower and the box holds few
strokes (under ``OTHER_TEXT`` of the read box's): the line is gone and nothing text-like took its
place. Everything else is left to the recogniser (``None``): a box whose read mask holds too few
strokes to compare (under ``MIN_STROKES`` of its pixels: text faint, thin or without contrast), and
a box that holds strokes of something else (another line, or the line moved and cut off by the box,
which only reading tells apart).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.media.text_gate import STROKE_CONTRAST
from mediasift.media.text_tracking import Seen

Rgb = npt.NDArray[np.uint8]

SHIFT = 3  # pixels a line may move between the frame it was read in and another, and still match
SAME_LINE = 0.75  # normalised correlation of the two boxes' luma at the best shift: the same line at or above
MIN_STROKES = 0.04  # share of a read box's pixels that are stroke edges, below which pixels cannot tell
OTHER_TEXT = 0.5  # a box with at least this share of the read box's strokes may hold other text: read it
# Each part of a box that matched as a whole (as wide as the box is high, a letter and a half; parts
# overlap by half) shows the same letters unless it correlates this much less than the whole box: a
# caption against itself, each part as the whole (1.0); where "Line 14" became "Line 21" (whole 0.95)
# the part with the number 0.53. A change spread over the box (noise, a moving background) lowers the
# parts about as much as the whole.
PART_DROP = 0.3


def gradient(rgb: Rgb) -> npt.NDArray[np.float32]:
    """The luma's 3x3 morphological gradient of an RGB crop: how much it jumps around each pixel."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, kernel).astype(np.float32)


def compare(read: Rgb, crop: Rgb) -> Seen | None:
    """Whether ``crop`` (the box in another frame) shows the line that ``read`` (the box where the
    line was read) shows: ``Seen.SHOWN``, ``Seen.GONE``, or None where the pixels cannot tell."""
    if crop.shape[:2] != read.shape[:2]:
        crop = np.asarray(cv2.resize(crop, (read.shape[1], read.shape[0]), interpolation=cv2.INTER_AREA), np.uint8)
    reference, candidate = gradient(read), gradient(crop)
    density = stroke_share(reference)
    if density < MIN_STROKES or min(reference.shape) <= 2 * SHIFT + 2:
        return None
    whole = likeness(read, crop)
    if whole >= SAME_LINE:
        return Seen.SHOWN if _alike_throughout(read, crop, reference, whole) else None
    if stroke_share(candidate) >= OTHER_TEXT * density:
        return None
    return Seen.GONE


def _alike_throughout(read: Rgb, crop: Rgb, reference: npt.NDArray[np.float32], whole: float) -> bool:
    """Whether each part of the box (about two letters wide) that holds strokes is alike too: a line
    whose number changed ("Line 14" to "Line 21") correlates as a whole like the same line, the
    other letters lining up; the part where it changed does not."""
    height, width = read.shape[:2]
    part = max(height, 4 * SHIFT + 4)
    for left in range(0, max(1, width - part // 2), part // 2):  # overlapping: a digit on a border is whole in one
        right = min(width, left + part)
        told = right - left > 2 * SHIFT + 2 and stroke_share(reference[:, left:right]) >= MIN_STROKES
        if told and likeness(read[:, left:right], crop[:, left:right]) < whole - PART_DROP:
            return False
    return True


def stroke_share(gradients: npt.NDArray[np.float32]) -> float:
    """The share of a box's pixels that are stroke edges."""
    return float((gradients >= STROKE_CONTRAST).mean())


def likeness(read: Rgb, crop: Rgb) -> float:
    """The normalised correlation of two boxes' luma (same size) at the best shift of up to ``SHIFT``
    pixels; 0 where either is flat."""
    template = cv2.cvtColor(np.ascontiguousarray(read), cv2.COLOR_RGB2GRAY)[SHIFT:-SHIFT, SHIFT:-SHIFT]
    shown = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    if template.std() == 0 or shown.std() == 0:
        return 0.0
    return float(cv2.matchTemplate(shown.astype(np.float32), template.astype(np.float32), cv2.TM_CCOEFF_NORMED).max())
