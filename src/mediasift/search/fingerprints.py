"""Aligning two videos' temporal fingerprints (:mod:`mediasift.operators.fingerprint`): is one a copy
of the other, or inside it, and where.

Every sample of one video is compared with every sample of the other by perceptual hash; the pairs
within :data:`HASH_NEAR` bits vote for a time offset (where the first video's picture shows in the
second), weighted by information so that flat frames never vote. At the winning offset a sample is
matched when the other video shows a like picture within :data:`ALIGN_TOL_S` of the same moment.
Durations count: each cut of the video with fewer shots (but its first and last shot's outer ends,
which a trim may move) must show in the other at the aligned moment, or that shot's pictures are
not matched, so the same pictures edited into shots of other lengths are another video. Extra cuts
in the other video are let be: a codec's artefacts can split a shot in two.

A pair is a duplicate when the side it covers more is covered to :data:`COVERAGE` of its information
(the trimmed copy, the video inside another), by at least :data:`MIN_MATCHED_S` seconds of picture,
over at least two shots (or :data:`SINGLE_SHOT_S` of one). Two different videos that open with the
same black and title (a few seconds of one or two shots, then other pictures) fail all three: the
title is one shot, a few seconds, and a small part of either video.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

HASH_NEAR = 12  # bits of 64: the same picture re-encoded, resized or sampled a few frames apart
ALIGN_TOL_S = 0.3  # a matched picture shows within this of the aligned moment (samples are 0.5 s apart)
OFFSET_BIN_S = 0.25  # the width of the offset votes' bins
CUT_SNAP_S = 0.5  # a cut this near the offset the pictures voted for sets the offset exactly
CUT_TOL_S = 0.35  # a cut of one video shows in the other within this of the aligned moment
SHOT_MATCHED = 0.5  # share of a shot's information matched for the shot to count as matched
COVERAGE = 0.75  # share of the covered side's information matched
MIN_MATCHED_S = 3.0  # seconds of matched picture (weighted by information)
SINGLE_SHOT_S = 5.0  # a match of one shot only needs this much


@dataclass(frozen=True)
class Fingerprint:
    """A video's fingerprint as stored, as arrays: per sample its time, shot, hash, and weight
    (information times the seconds the sample stands for)."""

    asset_id: UUID
    duration: float
    stream_sha256: str
    shots: npt.NDArray[np.float64]  # (shots, 2): start, end
    times: npt.NDArray[np.float64]
    shot_of: npt.NDArray[np.int64]
    hashes: npt.NDArray[np.uint64]
    weights: npt.NDArray[np.float64]

    @classmethod
    def of(cls, asset_id: UUID, data: Mapping[str, Any]) -> Fingerprint:
        shots = np.asarray(data["shots"], dtype=np.float64).reshape(-1, 2)
        samples = data["samples"]
        times = np.asarray([s[0] for s in samples], dtype=np.float64)
        shot_of = np.asarray([s[1] for s in samples], dtype=np.int64)
        hashes = np.asarray([int(s[2], 16) for s in samples], dtype=np.uint64)
        information = np.asarray([s[3] for s in samples], dtype=np.float64)
        spans = _spans(shots, times, shot_of)
        return cls(asset_id, float(data["duration"]), str(data["stream_sha256"]), shots, times, shot_of, hashes,
                   information * spans)  # fmt: skip

    @property
    def informative(self) -> npt.NDArray[np.bool_]:
        return self.weights > 0


@dataclass(frozen=True)
class Alignment:
    """How ``a`` sits in ``b``: ``offset_s`` is where ``a``'s time 0 falls on ``b``'s clock;
    ``coverage_a``/``coverage_b`` the share of each one's information matched; ``matched_s`` the
    matched seconds of picture (of the side covered more), over ``matched_shots`` of its shots."""

    offset_s: float
    coverage_a: float
    coverage_b: float
    matched_s: float
    matched_shots: int
    mean_distance: float  # bits, over the matched samples of the side covered more

    @property
    def duplicate(self) -> bool:
        enough_shots = self.matched_shots >= 2 or self.matched_s >= SINGLE_SHOT_S
        return max(self.coverage_a, self.coverage_b) >= COVERAGE and self.matched_s >= MIN_MATCHED_S and enough_shots

    @property
    def relation(self) -> str:
        """ "copy" (each covers the other), "a_in_b" or "b_in_a" (a trim, or one inside the other)."""
        if min(self.coverage_a, self.coverage_b) >= COVERAGE:
            return "copy"
        return "a_in_b" if self.coverage_a >= self.coverage_b else "b_in_a"


def align(a: Fingerprint, b: Fingerprint) -> Alignment | None:
    """The best alignment of ``a`` on ``b``, or None when no informative pictures are alike."""
    ia, ib = np.flatnonzero(a.informative), np.flatnonzero(b.informative)
    if not len(ia) or not len(ib):
        return None
    distance = np.bitwise_count(a.hashes[ia][:, None] ^ b.hashes[ib][None, :]).astype(np.int64)
    close = distance <= HASH_NEAR
    if not close.any():
        return None
    offsets = b.times[ib][None, :] - a.times[ia][:, None]
    offset = _by_cuts(a, b, _best_offset(offsets, close, a.weights[ia]))
    aligned = close & (np.abs(offsets - offset) <= ALIGN_TOL_S)
    matched_a = np.zeros(len(a.times), dtype=bool)
    matched_b = np.zeros(len(b.times), dtype=bool)
    matched_a[ia] = aligned.any(axis=1)
    matched_b[ib] = aligned.any(axis=0)
    a_fewer = _cuts_within(a, b, offset) <= _cuts_within(b, a, -offset)
    fewer, more, shift = (a, b, offset) if a_fewer else (b, a, -offset)
    for start, end in _cut_elsewhere(fewer, more, shift):
        matched_a &= ~_within(a.times, start, end, 0.0 if fewer is a else -offset)
        matched_b &= ~_within(b.times, start, end, offset if fewer is a else 0.0)
    cov_a, shots_a, seconds_a = _coverage(a, matched_a)
    cov_b, shots_b, seconds_b = _coverage(b, matched_b)
    a_side = cov_a >= cov_b
    side_rows = aligned.any(axis=1) if a_side else aligned.any(axis=0)
    bits = np.where(aligned, distance, 65).min(axis=1 if a_side else 0)[side_rows]
    return Alignment(
        offset_s=round(float(offset), 3),
        coverage_a=round(cov_a, 4),
        coverage_b=round(cov_b, 4),
        matched_s=round(seconds_a if a_side else seconds_b, 3),
        matched_shots=shots_a if a_side else shots_b,
        mean_distance=round(float(bits.mean()) if len(bits) else 0.0, 2),
    )


def _spans(
    shots: npt.NDArray[np.float64], times: npt.NDArray[np.float64], shot_of: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """The seconds each sample stands for: its shot cut halfway between its samples."""
    spans = np.zeros_like(times)
    for shot in np.unique(shot_of):
        at = np.flatnonzero(shot_of == shot)
        middles = (times[at][1:] + times[at][:-1]) / 2
        edges = np.concatenate(([shots[shot, 0]], middles, [shots[shot, 1]]))
        spans[at] = np.maximum(np.diff(edges), 0.0)
    return spans


def _best_offset(
    offsets: npt.NDArray[np.float64], close: npt.NDArray[np.bool_], weights: npt.NDArray[np.float64]
) -> float:
    """The offset most of ``a``'s information votes for: each sample's weight shared among its alike
    pictures in ``b`` (a still shot is alike all along), summed over neighbouring bins."""
    rows, cols = np.nonzero(close)
    share = weights[rows] / close.sum(axis=1)[rows]
    bins = np.round(offsets[rows, cols] / OFFSET_BIN_S).astype(np.int64)
    low = bins.min()
    votes = np.bincount(bins - low, weights=share)
    smoothed = np.convolve(votes, np.ones(3), mode="same")
    best = int(np.argmax(smoothed)) + low
    near = np.abs(bins - best) <= 1
    order = np.argsort(offsets[rows, cols][near])
    cumulative = np.cumsum(share[near][order])
    middle = int(np.searchsorted(cumulative, cumulative[-1] / 2))  # the weighted median
    return float(offsets[rows, cols][near][order][middle])


def _by_cuts(a: Fingerprint, b: Fingerprint, offset: float) -> float:
    """``offset`` set by the cuts: the median gap between each cut of ``a`` and the cut of ``b``
    nearest its aligned moment, of those within :data:`CUT_SNAP_S` (a cut is exact to a frame; the
    pictures' votes are not, where a still shot looks alike all along)."""
    cuts_a, cuts_b = a.shots[1:, 0], b.shots[1:, 0]
    if not len(cuts_a) or not len(cuts_b):
        return offset
    gaps = cuts_b[None, :] - cuts_a[:, None] - offset
    nearest = gaps[np.arange(len(cuts_a)), np.abs(gaps).argmin(axis=1)]
    snapped = nearest[np.abs(nearest) <= CUT_SNAP_S]
    return offset + float(np.median(snapped)) if len(snapped) else offset


def _cut_elsewhere(a: Fingerprint, b: Fingerprint, offset: float) -> list[tuple[float, float]]:
    """The spans (on ``a``'s clock) of ``a``'s shots whose cuts ``b`` does not make at the aligned
    moment: where ``b`` holds the picture on, or cuts away early. Only cuts inside ``b``'s span
    count (a trimmed copy lacks those before its start); extra cuts in ``b`` do not (a codec's
    artefacts can split a shot)."""
    cuts = b.shots[1:, 0]
    inside = (b.shots[0, 0] + CUT_TOL_S, b.shots[-1, 1] - CUT_TOL_S)
    spans = []
    for start, end in a.shots[1:-1]:
        for moment in (start + offset, end + offset):
            if inside[0] < moment < inside[1] and not (np.abs(cuts - moment) <= CUT_TOL_S).any():
                spans.append((float(start), float(end)))
                break
    return spans


def _cuts_within(a: Fingerprint, b: Fingerprint, offset: float) -> int:
    """The cuts of ``a`` where both videos run (on ``a``'s clock, ``b`` from ``-offset``)."""
    low, high = max(a.shots[0, 0], b.shots[0, 0] - offset), min(a.shots[-1, 1], b.shots[-1, 1] - offset)
    cuts = a.shots[1:, 0]
    return int(((cuts > low) & (cuts < high)).sum())


def _within(times: npt.NDArray[np.float64], start: float, end: float, shift: float) -> npt.NDArray[np.bool_]:
    return (times >= start + shift) & (times < end + shift)


def _coverage(print_: Fingerprint, matched: npt.NDArray[np.bool_]) -> tuple[float, int, float]:
    """The share of the video's information matched, the shots matched (by :data:`SHOT_MATCHED` of
    their information), and the matched seconds, counting only matched shots."""
    total = float(print_.weights.sum())
    if total <= 0:
        return 0.0, 0, 0.0
    per_shot = np.bincount(print_.shot_of, weights=print_.weights, minlength=len(print_.shots))
    hit = np.bincount(print_.shot_of, weights=print_.weights * matched, minlength=len(print_.shots))
    shots = (per_shot > 0) & (hit >= SHOT_MATCHED * per_shot)
    seconds = float(hit[shots].sum())
    return seconds / total, int(shots.sum()), seconds
