"""Cues from segments: short ones whole, long ones cut at their words, the text kept as written."""

from __future__ import annotations

import pytest

from mediasift.exports.cues import MAX_CUE_CHARS, MAX_CUE_S, Cue, Word, segment_cues, text_cues, transcript_cues
from mediasift.records import StoredSegment


def _words(text: str, start: float = 0.0, step: float = 0.5) -> list[Word]:
    """Whisper's words: stripped of spaces, ``step`` seconds each, one after another."""
    return [Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(text.split())]


def test_a_short_segment_is_one_cue_as_it_is() -> None:
    text = "The ferry leaves at noon."
    assert segment_cues(1.0, 3.0, " " + text, _words(text, 1.0)) == [Cue(1.0, 3.0, text)]
    assert segment_cues(1.0, 3.0, "   ") == [], "no empty cue"


def test_a_long_segment_is_cut_at_its_words_under_the_limits() -> None:
    text = ("the quick brown fox jumps over the lazy dog while seven wizards quietly hex "
            "the jovial farmer and his twelve boxing kangaroos near the old mill")  # fmt: skip
    words = _words(text, 10.0, 0.4)  # 27 words, 10.8 s, 140 characters: too long and too many
    cues = segment_cues(10.0, words[-1].end, text, words)
    assert len(cues) >= 2
    assert " ".join(cue.text for cue in cues) == text, "every word once, in order, spaced as written"
    for cue in cues:
        assert cue.end - cue.start <= MAX_CUE_S and len(cue.text) <= MAX_CUE_CHARS
        first, last = cue.text.split()[0], cue.text.split()[-1]
        assert any(w.start == cue.start and w.text == first for w in words), "starts at its first word"
        assert any(w.end == cue.end and w.text == last for w in words), "ends at its last word"
    assert [c.start for c in cues] == sorted(c.start for c in cues)
    assert cues[0].start == 10.0 and cues[-1].end == words[-1].end


def _run_of(lengths: list[int], seconds: float) -> tuple[str, list[Word]]:
    """Words of these lengths, spoken evenly over ``seconds``, and their text."""
    step = seconds / len(lengths)
    words = [Word("a" * n, i * step, (i + 1) * step) for i, n in enumerate(lengths)]
    return " ".join(w.text for w in words), words


def test_the_limits_hold_just_past_them() -> None:
    text, words = _run_of([11] * 6 + [12], 7.0)  # 84 characters in 7 s: one cue
    assert len(text) == MAX_CUE_CHARS and len(segment_cues(0.0, 7.0, text, words)) == 1
    text, words = _run_of([11] * 6 + [13], 7.0)  # 85 characters: two
    assert [len(c.text) for c in segment_cues(0.0, 7.0, text, words)] == [47, 37]
    text, words = _run_of([11] * 6 + [12], 7.01)  # 7.01 s: two
    assert [c.end for c in segment_cues(0.0, 7.01, text, words)] == [pytest.approx(4.006, abs=0.001), 7.01]


def test_a_segment_a_little_too_long_is_cut_in_halves_not_into_a_full_cue_and_an_orphan() -> None:
    text, words = _run_of([10] * 8, 8.0)  # 87 characters: 76 and 10 would fit, 43 and 43 read better
    assert [len(c.text) for c in segment_cues(0.0, 8.0, text, words)] == [43, 43]
    text, words = _run_of([10] * 16, 16.0)  # 175 characters in 16 s: three cues are needed, no more
    cues = segment_cues(0.0, 16.0, text, words)
    assert len(cues) == 3 and max(c.end - c.start for c in cues) - min(c.end - c.start for c in cues) <= 1.0


def test_a_long_segment_without_word_timings_stays_one_cue() -> None:
    text = "x " * 100
    assert segment_cues(0.0, 30.0, text) == [Cue(0.0, 30.0, text.strip())]


def test_a_cut_keeps_the_punctuation_and_prefers_the_end_of_a_sentence() -> None:
    text = "Storm warning, tonight: stay indoors. The harbour is closed until Monday, and ferries are cancelled."
    cues = segment_cues(0.0, 10.0, text, _words(text, 0.0, 10.0 / 16))
    assert [c.text for c in cues] == [
        "Storm warning, tonight: stay indoors.",
        "The harbour is closed until Monday, and ferries are cancelled.",
    ]


def test_words_not_found_in_the_text_are_joined_by_spaces() -> None:
    words = _words("one two three four five six seven eight nine ten eleven twelve thirteen fourteen", 0.0, 0.6)
    cues = segment_cues(0.0, 8.4, "something else entirely", words)
    assert " ".join(c.text for c in cues) == " ".join(w.text for w in words)


def test_text_without_spaces_is_cut_without_adding_any() -> None:
    text = "今日は天気がいいですね。明日も晴れるでしょう。"
    words = [Word(ch, i * 0.5, i * 0.5 + 0.5) for i, ch in enumerate(text)]
    cues = segment_cues(0.0, len(text) * 0.5, text, words, max_s=5.0)
    assert "".join(c.text for c in cues) == text and len(cues) >= 2


def _seg(kind: str, start: float | None, end: float | None, text: str | None, **data: object) -> StoredSegment:
    return StoredSegment(0, "op", kind, "k", start, end, None, text, 0.9, data)


def test_stored_segments_give_cues_with_their_words() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    words = [{"word": w.text, "start": w.start, "end": w.end, "confidence": 0.9} for w in _words(text, 2.0, 0.8)]
    segments = [
        _seg("transcript", 2.0, 11.6, " " + text, words=words),  # 9.6 s: cut
        _seg("transcript", None, None, "untimed"),
        _seg("transcript", 12.0, 13.0, None),
    ]
    cues = transcript_cues(segments)
    assert len(cues) == 2 and " ".join(c.text for c in cues) == text
    assert text_cues([_seg("ocr", 1.0, 2.0, "EXIT\n"), _seg("ocr", 1.0, 2.0, None), _seg("ocr", None, 1.0, "x")]) == [
        Cue(1.0, 2.0, "EXIT")
    ]
