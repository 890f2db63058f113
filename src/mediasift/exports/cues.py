"""Cues from timed text: one per segment, or, for a long segment with word timings, several cut at
word boundaries so each is short enough to read.

Where a segment is cut is chosen as a paragraph's line breaks are (least raggedness): of the ways to
cut it into cues within the limits, the one whose cues are the most evenly full, with a bonus for a
cut after the end of a sentence or a clause. So a segment a little too long becomes two halves, not a
full cue and an orphaned word or two.

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
# What a cut after a sentence's or a clause's end is worth, against the cost of a cue (its emptiness,
# 1 - fill, squared: a cue half full costs 0.25).
SENTENCE_BONUS = 0.5
CLAUSE_BONUS = 0.15
_CLOSERS = re.escape("\"')]»”’")  # a quote or bracket closed after the stop
_SENTENCE_END = re.compile(rf"[.!?…。！？][{_CLOSERS}]*$")
_CLAUSE_END = re.compile(rf"[,;:，、；：—–][{_CLOSERS}]*$")


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
    otherwise its words cut into cues of at most ``max_s`` seconds and ``max_chars`` characters (a
    single word longer than that is a cue of its own), as evenly full as can be. No cue is empty."""
    text = clean_text(text)
    words = [w for w in words if w.text.strip()]
    if not text:
        return []
    if not words or (end - start <= max_s and len(text) <= max_chars):
        return [Cue(start, end, text)]
    pieces = _pieces(text, words)

    def cost(first: int, last: int) -> float:
        """What the cue of words ``first``..``last`` costs; infinite past the limits."""
        chars = len(_joined(pieces, first, last))
        seconds = words[last].end - words[first].start
        if last > first and (chars > max_chars or seconds > max_s):
            return float("inf")
        fill = min(1.0, max(chars / max_chars, seconds / max_s))
        return (1.0 - fill) ** 2 - (_bonus(pieces[last]) if last < len(words) - 1 else 0.0)

    # best[i]: the least cost of cutting words[:i]; cut[i]: where its last cue starts
    best = [0.0] + [float("inf")] * len(words)
    cut = [0] * (len(words) + 1)
    for stop in range(1, len(words) + 1):
        for first in range(stop - 1, -1, -1):
            step = cost(first, stop - 1)
            if step == float("inf"):
                break  # a longer cue is over the limits too
            if best[first] + step < best[stop]:
                best[stop], cut[stop] = best[first] + step, first
    bounds = []
    stop = len(words)
    while stop > 0:
        bounds.append((cut[stop], stop - 1))
        stop = cut[stop]
    cues = [Cue(words[i].start, words[j].end, _joined(pieces, i, j)) for i, j in reversed(bounds)]
    return [cue for cue in cues if cue.text]


def _bonus(piece: str) -> float:
    piece = piece.rstrip()
    if _SENTENCE_END.search(piece):
        return SENTENCE_BONUS
    return CLAUSE_BONUS if _CLAUSE_END.search(piece) else 0.0


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
