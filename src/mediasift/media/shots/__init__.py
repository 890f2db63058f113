"""Shots of a video: hard cuts, fades (through black, white or any flat card) and dissolves, and one
keyframe per shot (:func:`detect_shots`).

Three steps, a module each: :mod:`.features` decodes the video once, fast (see
:mod:`mediasift.media.video`: no B-frames of H.264, no deblocking), and measures every frame it gets
on a 64x36 copy; :mod:`.boundaries` finds the cuts, fades and dissolves in those measures and
decodes in full only the gaps a cut may hide in, to put it on its exact frame; :mod:`.keyframe_choice`
picks each shot's keyframe. The knobs are :class:`ShotConfig`.

Speed. Decoding is the cost, and converting a frame to an array is most of the rest, so only the
frames other frames depend on are decoded (well under half the cost of a full decode on x264
output), each is shrunk once by a shared ``VideoReformatter``, and the features are numpy over
chunks of those small frames. Where the codec skipped nearly everything (the decoded frames are
further apart than ``MAX_SAMPLE_GAP_S``), the video is decoded again in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mediasift.media.shots.boundaries import Boundary, find_boundaries, place_cuts
from mediasift.media.shots.config import ShotConfig
from mediasift.media.shots.features import Samples, scan
from mediasift.media.shots.keyframe_choice import keyframe_times

__all__ = ["Shot", "ShotConfig", "ShotList", "detect_shots"]

MAX_SAMPLE_GAP_S = 0.34  # the features need decoded frames at least this close, as a rule


@dataclass(frozen=True)
class Shot:
    """A shot in seconds and frames (``end_frame`` exclusive) and the frame that stands for it.

    ``transition_in`` says how the shot begins: "start" (the first shot), "cut", "fade" or
    "dissolve"; a gradual transition is split between its two shots at its middle.
    ``extra_keyframe_times`` are more keyframes for a shot longer than ``long_shot_s``.
    """

    start: float
    end: float
    start_frame: int
    end_frame: int
    transition_in: str
    keyframe_time: float
    extra_keyframe_times: tuple[float, ...] = ()


@dataclass(frozen=True)
class ShotList:
    """The shots in order, covering the video without gaps, and what was learnt about the stream."""

    shots: list[Shot]
    fps: float
    frames: int
    duration: float
    width: int  # a whole frame as shown: upright, at display aspect
    height: int
    decoded_frames: int  # frames the detector decoded, both passes together
    sync_times: tuple[float, ...] = ()  # random-access points, which make reading keyframes faster


def detect_shots(path: Path, *, config: ShotConfig | None = None) -> ShotList:
    """The shots of the first video stream of ``path``. Raises
    :class:`~mediasift.media.video.NoVideoFrames`."""
    config = config or ShotConfig()
    samples = scan(path, config)
    decoded = len(samples.times)
    if decoded > 1 and float(np.median(np.diff(samples.times))) > MAX_SAMPLE_GAP_S:
        samples = scan(path, config, fast=False)  # the codec skipped nearly everything: decode all
        decoded += len(samples.times)
    boundaries, transients = find_boundaries(samples, config)
    decoded += place_cuts(path, samples, boundaries)
    return ShotList(
        shots=_shots(samples, boundaries, transients, config),
        fps=samples.fps,
        frames=round(samples.duration * samples.fps),
        duration=samples.duration,
        width=samples.width,
        height=samples.height,
        decoded_frames=decoded,
        sync_times=tuple(samples.sync_times),
    )


def _shots(
    samples: Samples, boundaries: list[Boundary], transients: list[tuple[float, float]], config: ShotConfig
) -> list[Shot]:
    """The shots the boundaries inside the video start, each with its keyframes."""
    fps = samples.fps
    total = max(1, round(samples.duration * fps))
    inside = [b for b in boundaries if 0 < b.frame < total]
    starts = [0] + [b.frame for b in inside]
    ends = [*starts[1:], total]
    kinds = ["start"] + [b.kind for b in inside]
    spans = [(first / fps, end / fps) for first, end in zip(starts, ends, strict=True)]
    chosen = keyframe_times(samples, spans, [b.span for b in inside], transients, config)
    return [
        Shot(first / fps, end / fps, first, end, kind, times[0], tuple(times[1:]))
        for first, end, kind, times in zip(starts, ends, kinds, chosen, strict=True)
    ]
