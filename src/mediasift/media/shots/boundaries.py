"""Where shots change: hard cuts, fades (through black, white or any flat card) and dissolves.

A cut is a change between two neighbouring frames that stands out against the changes around it on
both sides (a rolling median), so steady motion (a pan, a moving object) does not make cuts, and
that changes the picture rather than a band of it: a caption banner that comes up over moving
footage changes a sixth of the rows as much as a cut would, but most of its pixel change lies in one
third of the rows (``cut_band``), where a cut's spreads over the picture. A
change whose before and after match within 0.4 s is a transient (a camera flash, something passing
the lens), not a boundary. A dissolve is a stretch whose middle frame is the mix of its ends, and
flatter than them; a fade is a run of flat frames (black, white or any one colour: nearly all
pixels in one narrow band of luma and of chroma) between two shots, or a dissolve that passes
through near-black. A flat run at the very start or end is a fade in or out, no boundary; a flat
run that is a transient (a flash) is none either.

The first pass decodes only the frames a fast decode gives. Skipped frames matter only where a hard
cut falls between two decoded frames more than one frame apart: a second pass (:func:`place_cuts`)
seeks there and decodes that gap in full to place the cut on its exact frame. x264 puts an I-frame
on a scene cut, so on most files the frame before a cut is a P-frame and no gap needs a second look.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mediasift.media.shots.config import ShotConfig
from mediasift.media.shots.features import LAGS, Samples, Shrinker, frame_change, histograms
from mediasift.media.video import VideoSource


@dataclass
class Boundary:
    """Where a new shot starts: ``frame`` is its first frame, ``span`` the seconds of the transition."""

    kind: str
    frame: int
    span: tuple[float, float]
    strength: float
    gap: tuple[int, int] | None = None  # a cut: the samples it lies between


def find_boundaries(samples: Samples, config: ShotConfig) -> tuple[list[Boundary], list[tuple[float, float]]]:
    """The boundaries, and the transients found on the way (seconds: no keyframe there). Nothing
    that reaches into a flat card at the very start or end is a boundary: that is a fade in or out."""
    cuts, transients = _cuts(samples, config)
    gradual = _gradual(samples, transients, config)
    cuts = [cut for cut in cuts if not any(_overlaps(cut.span, g.span, config.edge_s) for g in gradual)]
    start, end = picture_span(samples)
    inside = [b for b in gradual + cuts if start <= b.span[0] and b.span[1] <= end]
    return _spaced(sorted(inside, key=lambda b: b.frame), samples, config), transients


def _overlaps(a: tuple[float, float], b: tuple[float, float], slack: float) -> bool:
    return a[0] <= b[1] + slack and b[0] <= a[1] + slack


def _spaced(boundaries: list[Boundary], samples: Samples, config: ShotConfig) -> list[Boundary]:
    """No two boundaries closer than ``min_shot_s``: of two, the stronger stays."""
    kept: list[Boundary] = []
    for boundary in boundaries:
        if kept and (boundary.frame - kept[-1].frame) < config.min_shot_s * samples.fps:
            if boundary.strength > kept[-1].strength:
                kept[-1] = boundary
            continue
        kept.append(boundary)
    return kept


def _cuts(samples: Samples, config: ShotConfig) -> tuple[list[Boundary], list[tuple[float, float]]]:
    """Steps that stand out against the rolling median of the steps on both sides and are not
    transients (the frames before and after them match); and the transients, in seconds."""
    step, times = samples.step, samples.times
    found, transients = [], []
    # Frames a second or so apart (a slideshow encoded at 1 fps, a time-lapse) hold no motion to stand
    # out against: each neighbouring step is a change of picture itself, and a slide of 1 s among
    # slides of 1 s never stood out. There a step stands out against ``cut_min``: a clear change.
    sparse = len(times) > 1 and float(np.median(np.diff(times))) > config.context_s / 2
    for k in map(int, np.flatnonzero(step >= config.cut_min)):
        if k == 0:
            continue
        left = step[np.searchsorted(times, times[k] - config.context_s) : k]
        right = step[k + 1 : np.searchsorted(times, times[k] + config.context_s, side="right")]
        base = max(float(np.median(left)) if left.size else 0.0, float(np.median(right)) if right.size else 0.0)
        if sparse:
            base = config.cut_min
        if step[k] < config.cut_ratio * base + config.cut_margin:
            continue
        if samples.band[k] >= config.cut_band:  # a band changed, not the picture: a caption banner
            continue
        transient = _transient(samples, k, config)
        if transient is not None:
            transients.append((float(times[transient[0]]), float(times[transient[1]])))
            continue
        before, after = samples.frame(times[k - 1]), samples.frame(times[k])
        span = (float(times[k - 1]), float(times[k]))
        found.append(Boundary("cut", before + (after - before + 1) // 2, span, float(step[k]), (k - 1, k)))
    return found, transients


def _transient(samples: Samples, k: int, config: ShotConfig) -> tuple[int, int] | None:
    """Samples before and after the step at ``k`` that match, within ``transient_s``: the picture
    came back, so the step was a flash or something passing by. None when there are none."""
    limit = config.transient_match * samples.step[k]
    for i in range(max(0, k - 1 - LAGS), k):
        for j in range(k, min(len(samples.step), i + LAGS + 2)):
            if j - i >= 2 and samples.back[j, j - i - 2] <= limit:
                return i, j
    return None


def _gradual(samples: Samples, transients: list[tuple[float, float]], config: ShotConfig) -> list[Boundary]:
    """Dissolves (the strongest mix measure first, one per stretch) and runs of flat frames between
    two shots, merged where they touch; a merged stretch with a flat frame in it is a fade."""
    spans = _flat_spans(samples, transients) + _dissolve_spans(samples, config)
    spans.sort()
    merged: list[list[float]] = []
    for lo, hi, strength in spans:
        if merged and lo <= merged[-1][1] + config.edge_s:
            merged[-1][1] = max(merged[-1][1], hi)
            merged[-1][2] = max(merged[-1][2], strength)
        else:
            merged.append([lo, hi, strength])
    found = []
    for lo, hi, strength in merged:
        inside = (samples.times >= lo) & (samples.times <= hi)
        kind = "fade" if samples.flat[inside].any() or samples.luma[inside].min(initial=1.0) < 0.03 else "dissolve"
        found.append(Boundary(kind, samples.frame((lo + hi) / 2), (lo, hi), strength))
    return found


def _dissolve_spans(samples: Samples, config: ShotConfig) -> list[tuple[float, float, float]]:
    strength = samples.mix.max(axis=1)
    spans: list[tuple[float, float, float]] = []
    for c in np.argsort(-strength, kind="stable"):
        if strength[c] <= 0:
            break
        row = samples.mix[c]
        half = config.dissolve_scales_s[int(np.argmax(row >= 0.9 * row.max()))]
        lo, hi = samples.times[c] - half, samples.times[c] + half
        if not any(_overlaps((lo, hi), (a, b), 0.0) for a, b, _ in spans):
            spans.append((lo, hi, float(strength[c])))
    return spans


def _flat_runs(samples: Samples) -> list[tuple[int, int, int, int]]:
    """Runs of flat samples, each widened over the fade out before it and the fade in after it (while
    the frames keep nearing the run's card, and leaving it after, for at most 2 s): first and last
    sample widened, and first and end (exclusive) of the flat ones."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], samples.flat.astype(np.int8), [0]])))
    last = len(samples.times) - 1
    runs = []
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        first, end = int(first), int(end)
        reach = (  # the samples the widening can look at
            int(np.searchsorted(samples.times, samples.times[first] - 2, side="right")),
            int(np.searchsorted(samples.times, samples.times[end - 1] + 2)),
        )
        away = _from_card(samples, (first, end), reach)
        lo, hi = first, end - 1
        while lo > 0 and samples.times[first] - samples.times[lo - 1] < 2 and away[lo - 1] > away[lo] + 0.005:
            lo -= 1
        while hi < last and samples.times[hi + 1] - samples.times[end - 1] < 2 and away[hi + 1] > away[hi] + 0.005:
            hi += 1
        runs.append((lo, hi, first, end))
    return runs


def _from_card(samples: Samples, run: tuple[int, int], reach: tuple[int, int]) -> dict[int, float]:
    """How far each sample within ``reach`` is from the card of the flat samples ``run``: the
    distance of its mean colour from the card's plus its contrast (0-1 scales). A fade to the card
    shrinks both in step; the contrast alone tells a fade to a grey card from a picture of the same
    mean grey."""
    (first, end), (start, stop) = run, reach
    card = np.concatenate([[samples.luma[first:end].mean()], samples.chroma[first:end].mean(axis=0)])
    colour = np.column_stack([samples.luma[start:stop], samples.chroma[start:stop]])
    away = np.abs(colour - card).sum(axis=1) + samples.spread[start:stop]
    return dict(zip(range(start, stop), away.tolist(), strict=True))


def _flat_spans(samples: Samples, transients: list[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """Fades: flat runs with a picture on both sides. A run at the very start or end is none, nor
    is one inside a transient (a flash whitens a few frames of one shot)."""
    spans = []
    last = len(samples.times)
    for lo, hi, first, end in _flat_runs(samples):
        flat = (float(samples.times[first]), float(samples.times[end - 1]))
        if first == 0 or end == last or any(a < flat[0] and flat[1] < b for a, b in transients):
            continue
        spans.append((float(samples.times[lo]), float(samples.times[hi]), 1.0))
    return spans


def picture_span(samples: Samples) -> tuple[float, float]:
    """From the end of an opening fade in from a flat card (black, white, ...) to the start of a
    closing fade out to one: no keyframe is taken outside this."""
    runs = _flat_runs(samples)
    start = float(samples.times[runs[0][1]]) if runs and samples.flat[0] else 0.0
    end = float(samples.times[runs[-1][0]]) if runs and samples.flat[-1] else samples.duration
    return start, end


# --------------------------------------------------------------------------------------- pass 2


def place_cuts(path: Path, samples: Samples, boundaries: list[Boundary]) -> int:
    """Decode every frame between the two samples of each cut that are more than one frame apart,
    and move the cut to where the change between neighbouring frames is largest. Returns how many
    frames that decoded."""
    loose = [(b, b.gap) for b in boundaries if b.kind == "cut" and b.gap and _gap_frames(samples, b.gap) > 1]
    if not loose:
        return 0
    windows = [(float(samples.times[before]), float(samples.times[after])) for _, (before, after) in loose]
    frames: dict[int, list[tuple[float, np.ndarray]]] = {index: [] for index in range(len(windows))}
    with VideoSource(path, fast=samples.fast, deblock=False) as video:
        small = Shrinker()
        for index, seconds, frame in video.window_frames(windows, sync_times=samples.sync_times, margin=0.0):
            frames[index].append((seconds, small(frame)))
    for index, (boundary, _) in enumerate(loose):
        run = frames[index]
        if len(run) >= 2:
            stack = np.stack([pixels for _, pixels in run])
            rows = np.arange(1, len(run))
            jump = int(np.argmax(frame_change(stack, histograms(stack), rows - 1, rows))) + 1
            boundary.frame = samples.frame(run[jump][0])
    return video.decoded


def _gap_frames(samples: Samples, gap: tuple[int, int]) -> int:
    return samples.frame(samples.times[gap[1]]) - samples.frame(samples.times[gap[0]])
