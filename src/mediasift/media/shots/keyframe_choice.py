"""The keyframe of each shot: a sharp picture, clear of transitions and flashes, cheap to read back.

No keyframe is taken from a flat frame (black, white, a card), from the fade in at the very start
or the fade out at the very end, nor from within ``edge_s`` of a transition.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import pairwise

import numpy as np

from mediasift.media.shots.boundaries import picture_span
from mediasift.media.shots.config import ShotConfig
from mediasift.media.shots.features import Samples

Span = tuple[float, float]  # seconds


def keyframe_times(
    samples: Samples, shots: list[Span], transitions: list[Span], transients: list[Span], config: ShotConfig
) -> list[list[float]]:
    """The keyframe times of each shot, in order: one, and one more per ``long_shot_s`` of a long
    shot. ``transitions`` are the spans between the shots (one fewer than the shots); ``transients``
    the flashes and the like found on the way (no keyframe there)."""
    picture = picture_span(samples)
    clear = _clear_candidates(samples, transients)
    chosen = []
    for index, shot in enumerate(shots):
        usable = (
            (transitions[index - 1][1] if index else picture[0]) + config.edge_s,
            (transitions[index][0] if index < len(transitions) else picture[1]) - config.edge_s,
        )
        chosen.append(_keyframes(samples, shot, usable, clear, config))
    return chosen


def _keyframes(
    samples: Samples,
    shot: Span,
    usable: Span,
    clear: np.ndarray,
    config: ShotConfig,
) -> list[float]:
    """One keyframe per ``long_shot_s`` of the shot, from a few candidate frames that are not flat
    (black, white, a card) and keep clear of transitions and flashes. Without any, the sample nearest the middle."""
    parts = max(1, math.ceil((shot[1] - shot[0]) / config.long_shot_s - 1e-9))
    chosen = []
    for lo, hi in pairwise(np.linspace(shot[0], shot[1], parts + 1)):
        lo, hi = max(lo, usable[0]), min(hi, usable[1])
        first, end = (
            int(np.searchsorted(samples.sharp_times, lo)),
            int(np.searchsorted(samples.sharp_times, hi, side="right")),
        )
        pool = [index for index in range(first, end) if clear[index]]
        if len(pool) > config.keyframe_candidates:
            picks = np.linspace(0, len(pool) - 1, config.keyframe_candidates).round().astype(int)
            pool = [pool[i] for i in picks]
        if pool:
            chosen.append(_pick(samples, pool, (lo + hi) / 2, config))
    if not chosen:
        middle = sum(shot) / 2
        inside = np.flatnonzero((samples.times >= shot[0]) & (samples.times < shot[1]) & ~samples.flat)
        pool_all = inside if inside.size else np.arange(len(samples.times))
        chosen.append(round(float(samples.times[pool_all[np.argmin(np.abs(samples.times[pool_all] - middle))]]), 6))
    return chosen


def _clear_candidates(samples: Samples, transients: list[Span]) -> np.ndarray:
    """Which keyframe candidates (``samples.sharpness``) are neither flat nor inside a transient."""
    clear = ~samples.flat[samples.sharp_samples]
    for start, end in transients:
        clear[np.searchsorted(samples.sharp_times, start, side="right") : np.searchsorted(samples.sharp_times, end)] = (
            False
        )
    return clear


def _pick(samples: Samples, pool: list[int], middle: float, config: ShotConfig) -> float:
    """Of the candidates (indexes into ``samples.sharpness``) nearly as sharp as the sharpest, the
    cheapest to read back: the nearest after a random-access point (reading a frame decodes from
    there), then the nearest the middle."""
    best = max(samples.sharpness[index] for index in pool)
    sharp = [index for index in pool if samples.sharpness[index] >= config.keyframe_sharpness * best]

    def cost(index: int) -> Span:
        t = float(samples.sharp_times[index])
        sync = bisect_right(samples.sync_times, t + 1e-6) - 1
        return (t - samples.sync_times[sync] if sync >= 0 else t), abs(t - middle)

    return round(float(samples.sharp_times[min(sharp, key=cost)]), 6)
