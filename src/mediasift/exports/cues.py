"""Cues from timed text: one per segment, or, for a long segment with word timings, several cut at
word boundaries so each is short enough to read.

A cut cue's text is a piece of the segment's own text, its punctuation and spacing kept: the words
are found in the text in order and the text is cut after a word. Where the words cannot all be found
in it, the pieces are the words themselves, joined by spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mediasift.records import StoredSegment

# Subtitle guidance (the BBC's, Netflix's): at most two lines of about 42 characters, on screen for at
# most about 7 seconds.
MAX_CUE_S = 7.0
MAX_CUE_CHARS = 84
# A cue is closed after the end of a sentence once it holds this many characters.
SENTENCE_MIN_CHARS = 24
_SENTENCE_END = re.compile(r"[.!?…。！？][\"')\]»”’]*$")


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Cue:
    """Text shown from ``start`` to ``end`` (seconds); ``text`` may hold line breaks, never a blank line."""

    start: float
    end: float
    text: str


def clean_text(text: str) -> str:
    """The text with each line stripped and blank lines dropped: a blank line ends a cue in both
    formats."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def segment_cues(
    start: float,
    end: float,
    text: str,
    words: Sequence[Word] = (),
    *,
    max_s: float = MAX_CUE_S,
    max_chars: int = MAX_CUE_CHARS,
) -> list[Cue]:
    """The cues of one segment: the segment itself when it is short enough or has no word timings;
    otherwise its words grouped into cues of at most ``max_s`` seconds and ``max_chars`` characters
    (a single word longer than that is a cue of its own), a cue closed early after the end of a
    sentence once it holds ``SENTENCE_MIN_CHARS``. No cue is empty."""
    text = clean_text(text)
    words = [w for w in words if w.text.strip()]
    if not text:
        return []
    if not words or (end - start <= max_s and len(text) <= max_chars):
        return [Cue(start, end, text)]
    pieces = _pieces(text, words)
    cues: list[Cue] = []
    first = 0  # the first word of the cue being filled
    for index, word in enumerate(words):
        if index > first:
            longer = _joined(pieces, first, index)
            if word.end - words[first].start > max_s or len(longer) > max_chars:
                cues.append(Cue(words[first].start, words[index - 1].end, _joined(pieces, first, index - 1)))
                first = index
        so_far = _joined(pieces, first, index)
        if len(so_far) >= SENTENCE_MIN_CHARS and _SENTENCE_END.search(so_far):
            cues.append(Cue(words[first].start, word.end, so_far))
            first = index + 1
    if first < len(words):
        cues.append(Cue(words[first].start, words[-1].end, _joined(pieces, first, len(words) - 1)))
    return [cue for cue in cues if cue.text]


def _pieces(text: str, words: Sequence[Word]) -> list[str]:
    """Per word, the text from the end of the word before it to its own end (the last to the end of
    ``text``); or, where a word is not found in order, the words with a space before each."""
    pieces: list[str] = []
    cursor = 0
    for word in words:
        found = text.find(word.text.strip(), cursor)
        if found < 0:
            return [" " + w.text.strip() for w in words]
        end = found + len(word.text.strip())
        pieces.append(text[cursor:end])
        cursor = end
    pieces[-1] += text[cursor:]
    return pieces


def _joined(pieces: Sequence[str], first: int, last: int) -> str:
    return clean_text("".join(pieces[first : last + 1]))


def transcript_cues(
    segments: Iterable[StoredSegment], *, max_s: float = MAX_CUE_S, max_chars: int = MAX_CUE_CHARS
) -> list[Cue]:
    """The cues of transcript segments (their words in ``data["words"]``: word, start, end), long
    ones cut at words (:func:`segment_cues`). Segments without a time are left out."""
    cues: list[Cue] = []
    for seg in segments:
        if seg.start is None or seg.end is None or not seg.text:
            continue
        words = [Word(str(w["word"]), float(w["start"]), float(w["end"])) for w in seg.data.get("words", [])]
        cues += segment_cues(seg.start, seg.end, seg.text, words, max_s=max_s, max_chars=max_chars)
    return cues


def text_cues(segments: Iterable[StoredSegment]) -> list[Cue]:
    """One cue per segment with a time range and text (on-screen text runs), as it is."""
    return [
        Cue(seg.start, seg.end, text)
        for seg in segments
        if seg.start is not None and seg.end is not None and seg.text and (text := clean_text(seg.text))
    ]
