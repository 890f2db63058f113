"""Cues as WebVTT and SRT: timestamps, escaping, numbering, and what is left out."""

from __future__ import annotations

import pytest

from mediasift.exports.cues import Cue
from mediasift.exports.subtitles import escape_vtt, timestamp, to_srt, to_vtt


@pytest.mark.parametrize(
    ("seconds", "vtt", "srt"),
    [
        (0.0, "00:00:00.000", "00:00:00,000"),
        (1.5, "00:00:01.500", "00:00:01,500"),
        (59.9994, "00:00:59.999", "00:00:59,999"),  # just under the half millisecond: rounded down
        (59.9996, "00:01:00.000", "00:01:00,000"),  # rounded once, before it is split: never 00:00:60.000
        (3599.9996, "01:00:00.000", "01:00:00,000"),
        (3723.042, "01:02:03.042", "01:02:03,042"),  # over an hour
        (100 * 3600 + 0.001, "100:00:00.001", "100:00:00,001"),  # hours take the digits they need
        (-0.2, "00:00:00.000", "00:00:00,000"),  # before the start is the start
    ],
)
def test_timestamps_are_rounded_to_the_millisecond_in_each_format(seconds: float, vtt: str, srt: str) -> None:
    assert timestamp(seconds) == vtt
    assert timestamp(seconds, ",") == srt


def test_vtt_has_its_header_and_escapes_cue_text() -> None:
    text = to_vtt([Cue(0.0, 1.25, "Fish & chips <b>now</b> --> later")])
    assert text == "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nFish &amp; chips &lt;b&gt;now&lt;/b&gt; --&gt; later\n"
    assert escape_vtt("a&amp;b") == "a&amp;amp;b"  # an ampersand already there is text too


def test_srt_numbers_cues_in_order_of_start_and_uses_a_decimal_comma() -> None:
    cues = [Cue(4.0, 5.0, "third"), Cue(0.5, 2.0, "first"), Cue(2.0, 3.5, "second")]
    assert to_srt(cues) == (
        "1\n00:00:00,500 --> 00:00:02,000\nfirst\n\n"
        "2\n00:00:02,000 --> 00:00:03,500\nsecond\n\n"
        "3\n00:00:04,000 --> 00:00:05,000\nthird\n"
    )
    assert to_srt([Cue(0.0, 1.0, "a < b & c")]).endswith("a < b & c\n"), "SRT text is not escaped"


def test_empty_cues_and_blank_lines_are_left_out() -> None:
    cues = [Cue(0.0, 1.0, "  "), Cue(1.0, 2.0, "one\n\n  two  \n"), Cue(2.0, 3.0, "\n")]
    assert to_srt(cues) == "1\n00:00:01,000 --> 00:00:02,000\none\ntwo\n"
    assert to_vtt(cues) == "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\none\ntwo\n"
    assert to_vtt([]) == "WEBVTT\n" and to_srt([]) == ""


def test_a_cue_ends_after_it_starts() -> None:
    # a zero-length word, and one whose end rounds onto its start
    assert "00:00:02.000 --> 00:00:02.001" in to_vtt([Cue(2.0, 2.0, "uh")])
    assert "00:00:02.000 --> 00:00:02.001" in to_vtt([Cue(2.0, 2.0004, "uh")])
    assert "00:00:02.000 --> 00:00:02.002" in to_vtt([Cue(2.0, 2.002, "uh")])
