"""Aligning temporal fingerprints: copies, trims and a video inside another are duplicates; two
videos that share only an intro, the same pictures cut to other lengths, and every case just past a
threshold are not. The fingerprints are written as the operator stores them (shots, and a sample
every half second of each shot with its 64-bit hash and information), with chosen hashes."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import numpy as np
import pytest

from mediasift.search.fingerprints import (
    COVERAGE,
    CUT_TOL_S,
    HASH_NEAR,
    SINGLE_SHOT_S,
    Alignment,
    Fingerprint,
    align,
)

RNG = np.random.default_rng(5)
PICTURES = {name: int(RNG.integers(0, 1 << 63)) for name in "PQRSTUVWXYZ"} | {"title": int(RNG.integers(0, 1 << 63))}
FLAT = 0  # a black frame's hash: noise, with no information


def video(*shots: tuple[str, float], flip: int = 0) -> dict[str, Any]:
    """Shots of pictures (a name of PICTURES, or "black") lasting the seconds given, one after
    another, sampled as the operator samples them; ``flip`` bits of every hash turned."""
    spans, samples, start = [], [], 0.0
    for index, (picture, seconds) in enumerate(shots):
        end = start + seconds
        spans.append([start, end])
        time = start + 0.25
        while time < end - 0.02:
            value = FLAT if picture == "black" else PICTURES[picture] ^ ((1 << flip) - 1)
            samples.append([round(time, 3), index, f"{value:016x}", 0.0 if picture == "black" else 1.0])
            time += 0.5
        start = end
    return {"version": 1, "duration": start, "stream_sha256": "0" * 64, "step_s": 0.5, "shots": spans,
            "samples": samples}  # fmt: skip


def aligned(a: dict[str, Any], b: dict[str, Any]) -> Alignment | None:
    return align(Fingerprint.of(uuid4(), a), Fingerprint.of(uuid4(), b))


ORIGINAL = (("P", 3.0), ("Q", 2.5), ("R", 4.0), ("S", 3.0))


def test_a_copy_is_a_duplicate_of_its_original_at_offset_zero() -> None:
    found = aligned(video(*ORIGINAL), video(*ORIGINAL, flip=3))
    assert found is not None and found.duplicate and found.relation == "copy"
    assert found.offset_s == 0.0 and found.coverage_a == found.coverage_b == 1.0 and found.matched_shots == 4


def test_a_trim_and_a_video_inside_another_are_duplicates_at_their_offset() -> None:
    trimmed = video(("P", 1.2), *ORIGINAL[1:3], ("S", 1.0))  # 1.8 s off the head, 2 s off the tail
    found = aligned(trimmed, video(*ORIGINAL))
    assert found is not None and found.duplicate and found.relation == "a_in_b"
    assert found.offset_s == pytest.approx(1.8) and found.coverage_a == 1.0
    longer = video(("T", 2.0), ("U", 3.0), *ORIGINAL, ("V", 2.0))
    found = aligned(video(*ORIGINAL), longer)
    assert found is not None and found.duplicate and found.relation == "a_in_b" and found.offset_s == 5.0
    assert found.coverage_a == 1.0 and found.coverage_b < 0.7


def test_hashes_further_apart_than_hash_near_do_not_match() -> None:
    assert aligned(video(*ORIGINAL), video(*ORIGINAL, flip=HASH_NEAR)).duplicate  # type: ignore[union-attr]
    assert aligned(video(*ORIGINAL), video(*ORIGINAL, flip=HASH_NEAR + 1)) is None


def test_black_frames_never_match() -> None:
    assert aligned(video(("black", 5.0)), video(("black", 5.0))) is None


def test_two_videos_with_the_same_black_and_title_intro_are_not_duplicates() -> None:
    intro = (("black", 1.0), ("title", 2.0))
    found = aligned(video(*intro, *ORIGINAL), video(*intro, ("T", 3.0), ("U", 2.0), ("V", 4.0), ("W", 3.5)))
    assert found is not None and not found.duplicate
    assert found.offset_s == 0.0 and found.matched_shots == 1 and found.matched_s == pytest.approx(2.0)
    # nor when the rest is short: the title is one shot of two seconds, however much of a video it is
    short = aligned(video(*intro, ("P", 0.5)), video(*intro, ("T", 0.5)))
    assert short is not None and short.coverage_a == pytest.approx(0.8) and short.coverage_a >= COVERAGE
    assert not short.duplicate


def test_coverage_just_under_the_threshold_is_no_duplicate() -> None:
    shared = (("P", 3.0), ("Q", 3.0), ("R", 3.0))  # the first 9 s of both, then other pictures
    at = aligned(video(*shared, ("S", 3.0)), video(*shared, ("T", 3.0)))
    assert at is not None and at.coverage_a == pytest.approx(COVERAGE) and at.duplicate
    under = aligned(video(*shared, ("S", 3.5)), video(*shared, ("T", 3.5)))
    assert under is not None and under.coverage_a == pytest.approx(9 / 12.5, abs=1e-4) and not under.duplicate


def test_one_shot_alone_needs_single_shot_seconds() -> None:
    around = (("T", 3.0), ("U", 2.0))
    enough = aligned(video(("P", SINGLE_SHOT_S)), video(*around, ("P", SINGLE_SHOT_S), ("V", 2.0)))
    assert enough is not None and enough.matched_shots == 1 and enough.duplicate
    short = SINGLE_SHOT_S - 0.5
    under = aligned(video(("P", short)), video(*around, ("P", short), ("V", 2.0)))
    assert under is not None and under.coverage_a == 1.0 and under.matched_s == pytest.approx(short)
    assert not under.duplicate


def test_the_same_pictures_cut_to_other_lengths_are_another_video() -> None:
    original = video(("P", 3.0), ("Q", 3.0), ("R", 3.0), ("S", 3.0))
    moved = CUT_TOL_S - 0.05  # the cut between Q and R placed this much later: a codec can move a cut
    near = aligned(original, video(("P", 3.0), ("Q", 3.0 + moved), ("R", 3.0 - moved), ("S", 3.0)))
    assert near is not None and near.duplicate
    past = CUT_TOL_S + 0.1
    far = aligned(original, video(("P", 3.0), ("Q", 3.0 + past), ("R", 3.0 - past), ("S", 3.0)))
    assert far is not None and not far.duplicate and far.coverage_a == pytest.approx(0.5)


def test_a_shot_split_by_an_extra_cut_in_one_copy_still_matches() -> None:
    split = video(("P", 3.0), ("Q", 1.0), ("Q", 1.5), ("R", 4.0), ("S", 3.0))  # Q cut in two by artefacts
    found = aligned(video(*ORIGINAL), split)
    assert found is not None and found.duplicate and found.coverage_a == 1.0
