"""The knobs of shot detection."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShotConfig:
    """The knobs of detection. Every field changes the output, so all of them are lineage.

    A change is on a 0-1 scale: half the distance of the colour histograms plus the mean absolute
    difference of the pixels, both of the frames shrunk to 64x36.
    """

    cut_min: float = 0.05  # a cut changes at least this much between neighbouring frames
    cut_ratio: float = 3.0  # ... and this many times the rolling median around it
    cut_margin: float = 0.02  # ... plus this
    # ... with less than this share of its pixel change in a third of the rows. A banner over a sixth of
    # panning footage puts 0.745-0.75 of its change there (0.75 missed it on one machine), a cut made
    # while it shows 0.40-0.45; both eval sets score the same at 0.65, 0.7 and 0.75.
    cut_band: float = 0.65
    context_s: float = 1.0  # the rolling median looks this far each side
    transient_s: float = 0.4  # before and after match within this long: a flash, not a cut
    transient_match: float = 0.35  # "match": their change is below this share of the jump
    dissolve_scales_s: tuple[float, ...] = (0.2, 0.35, 0.5, 0.75)  # half-lengths tried
    dissolve_min: float = 0.1  # the ends of a dissolve differ at least this much
    dissolve_mix: float = 0.3  # the middle differs from the mix of the ends by at most this share
    dissolve_contrast: float = 0.9  # ... and has at most this share of the ends' contrast
    black_luma: float = 0.12  # a pixel darker than this (0-1) is black
    black_share: float = 0.97  # a frame with at least this share of black pixels is black
    flat_share: float = 0.97  # ... or with this share in one band of 24 luma and 32 chroma levels is flat
    card_shot_s: float = 1.0  # a flat run that is not black and lasts this long is a card (a shot), no fade
    card_spread: float = 0.04  # ... or black with this spread of its luma (letters on it) that long
    min_shot_s: float = 0.4  # boundaries closer than this merge into one
    edge_s: float = 0.3  # a keyframe keeps this far from a shot's transitions
    keyframe_candidates: int = 7  # frames per shot compared for sharpness
    keyframe_sharpness: float = 0.75  # of those at least this share as sharp as the sharpest, the cheapest to read
    long_shot_s: float = 60.0  # a shot longer than this gets one more keyframe per this long
