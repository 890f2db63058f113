"""Which videos ``duplicates`` aligns: two that share :data:`MIN_SHARED` keys (two of a sample's hash's
four 16-bit quarters), a key more than :data:`MAX_BUCKET` videos share not counting. The hashes are
chosen so that the keys shared are known."""

from __future__ import annotations

from uuid import uuid4

import numpy as np

from mediasift.search.duplicates import MAX_BUCKET, MIN_SHARED, candidate_pairs
from mediasift.search.fingerprints import Fingerprint

RNG = np.random.default_rng(11)
QUARTER = 0xFFFF


def fingerprint(hashes: list[int]) -> Fingerprint:
    """One shot, a fully informative sample of each hash every half second."""
    samples = [[0.25 + 0.5 * i, 0, f"{value:016x}", 1.0] for i, value in enumerate(hashes)]
    data = {"version": 1, "duration": 0.5 * len(hashes), "stream_sha256": "0" * 64, "step_s": 0.5,
            "shots": [[0.0, 0.5 * len(hashes)]], "samples": samples}  # fmt: skip
    return Fingerprint.of(uuid4(), data)


def random_hashes(count: int) -> list[int]:
    return [int(value) for value in RNG.integers(0, 1 << 63, count, dtype=np.int64)]


def with_quarters(value: int, source: int, quarters: tuple[int, ...]) -> int:
    """``value`` with the 16-bit quarters numbered in ``quarters`` taken from ``source``."""
    for quarter in quarters:
        mask = QUARTER << (16 * quarter)
        value = (value & ~mask) | (source & mask)
    return value


def test_a_re_encoded_copy_is_compared_and_an_unrelated_video_sharing_quarters_is_not() -> None:
    """A copy whose every hash has four bits turned (all in its lowest quarter, so three of its six keys
    survive) is a candidate; a video whose hashes each share one quarter with the original's (what made
    two videos candidates before) is not."""
    original = random_hashes(20)
    copy = [value ^ 0b1111 for value in original]
    unrelated = [with_quarters(other, value, (2,)) for value, other in zip(original, random_hashes(20), strict=True)]
    pairs = candidate_pairs([fingerprint(original), fingerprint(copy), fingerprint(unrelated)])
    assert pairs == {(0, 1)}


def test_two_videos_are_compared_from_min_shared_keys_on() -> None:
    """Each sample of the second video keeps quarters 0 and 1 of one of the first's hashes (one key
    shared a sample): ``MIN_SHARED`` such samples make a candidate, one fewer does not."""
    original = random_hashes(10)

    def sharing(count: int) -> list[int]:
        return [with_quarters(other, value, (0, 1)) for value, other in
                zip(original[:count], random_hashes(count), strict=True)] + random_hashes(10 - count)  # fmt: skip

    assert candidate_pairs([fingerprint(original), fingerprint(sharing(MIN_SHARED))]) == {(0, 1)}
    assert candidate_pairs([fingerprint(original), fingerprint(sharing(MIN_SHARED - 1))]) == set()


def test_keys_that_too_many_videos_share_say_nothing() -> None:
    """The same pictures (a logo, a title card) in ``MAX_BUCKET`` videos make them candidates; in one
    more, none: their keys are everyone's."""
    common = random_hashes(3)
    for videos, expected in ((MAX_BUCKET, MAX_BUCKET * (MAX_BUCKET - 1) // 2), (MAX_BUCKET + 1, 0)):
        prints = [fingerprint(common + random_hashes(5)) for _ in range(videos)]
        assert len(candidate_pairs(prints)) == expected


def test_no_videos_no_pairs() -> None:
    assert candidate_pairs([]) == set()
    assert candidate_pairs([fingerprint([])]) == set()
