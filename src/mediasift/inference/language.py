"""Which language a text is in, cheap first: lingua's fast mode, and its accurate mode only when the
fast mode is unsure (confidence under ``language_fast_min_confidence``), choosing then among the
fast mode's likeliest languages (eval/language.py measures the trade-off; the models are
:mod:`mediasift.models.language`).

The accurate mode's cost is mostly loading: each language it is asked about loads its n-gram models
on first need (0.1-0.2 s of CPU each, once per process), so every language left out of a choice is a
load saved. Languages the fast mode scores under a tenth of its best are left out: in
eval/language.py every right answer among the ten likeliest scores at least 0.14 of the best, while
an OCR line of a benchmark video ("us first determine markers of th") asked about ten languages,
most of them near zero, and loaded all ten.

A text of several sentences the fast mode is unsure of is decided sentence by sentence, each sentence
routed the same way, and the language with the most letters (weighted by confidence) wins. Names from
other languages sway a whole text: an English note about a café in Łódź, the Hauptstraße and a trip
to Ærøskøbing was Tagalog to both modes (0.67 and 0.69; English 0.001), where two of its three
sentences are English at 0.94-1.0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from mediasift.inference import stats
from mediasift.models import ModelRef
from mediasift.models.language import Scored, language_code

ROUTER_ID = "lingua-fast-then-accurate"
CANDIDATES = 10  # the fast mode's likeliest languages the accurate mode chooses among ...
CANDIDATE_SHARE = 0.1  # ... where each scores at least this share of the best


def router_version(fast: ModelRef, accurate: ModelRef, min_confidence: float) -> str:
    then = f"{accurate.id}@top{CANDIDATES}>{CANDIDATE_SHARE:g}"
    return f"escalate_below={min_confidence:g};first={fast.id};then={then};{fast.version}"


def candidates(ranked: Scored) -> list[Any]:
    """The languages the accurate mode chooses among for a text the fast mode ranked so."""
    least = ranked[0][1] * CANDIDATE_SHARE if ranked else 0.0
    return [language for language, score in ranked[:CANDIDATES] if score >= least]


class LanguageRouter:
    """``fast`` scores a text over all languages; ``accurate`` picks among candidates. Both are calls
    through the inference layer's stack (counted, the models loaded on need). Every decision is
    counted (``stats.record_route``) under ``ref``, whose version carries the threshold."""

    def __init__(
        self,
        fast: tuple[ModelRef, Callable[[str], Scored]],
        accurate: tuple[ModelRef, Callable[[str, Sequence[Any]], tuple[str, float] | None]],
        min_confidence: float,
    ) -> None:
        (self.fast_ref, self.fast), (self.accurate_ref, self.accurate) = fast, accurate
        self.min_confidence = min_confidence
        self.ref = ModelRef(ROUTER_ID, router_version(self.fast_ref, self.accurate_ref, min_confidence))

    def detect(self, text: str) -> tuple[str, float] | None:
        """The ISO 639-1 code (lowercase) and confidence of the most likely language, or None when
        the text has nothing to go on (empty, digits, punctuation) or no language scores above zero."""
        if not any(ch.isalpha() for ch in text):
            return None
        ranked = self.fast(text)
        if not ranked:
            return None
        choice = candidates(ranked)
        if ranked[0][1] >= self.min_confidence or len(choice) == 1:
            stats.record_route(self.ref, self.fast_ref, escalated=False)
            return language_code(ranked[0][0]), ranked[0][1]
        pieces = sentences(text)
        if len(pieces) > 1:
            return self._by_sentences(pieces)
        stats.record_route(self.ref, self.accurate_ref, escalated=True)
        return self.accurate(text, choice)

    def _by_sentences(self, pieces: list[str]) -> tuple[str, float] | None:
        """The language most of the pieces' letters are in, each piece's letters weighted by its
        confidence, and that weight's share of all the letters."""
        weights: dict[str, float] = {}
        total = 0
        for piece in pieces:
            letters = sum(ch.isalpha() for ch in piece)
            total += letters
            found = self.detect(piece)  # one sentence: routed whole, never split again
            if found is not None:
                weights[found[0]] = weights.get(found[0], 0.0) + letters * found[1]
        if not weights:
            return None
        best = max(weights, key=lambda code: weights[code])
        return best, weights[best] / total


MIN_PIECE_LETTERS = 20  # a shorter sentence goes with the next: "Hello." alone says little
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def sentences(text: str) -> list[str]:
    """``text`` cut after each sentence's end, a piece of fewer than :data:`MIN_PIECE_LETTERS` letters
    joined to the next (the last to the one before)."""
    pieces: list[str] = []
    pending = ""
    for part in _SENTENCE_END.split(text.strip()):
        pending = f"{pending} {part}" if pending else part
        if sum(ch.isalpha() for ch in pending) >= MIN_PIECE_LETTERS:
            pieces.append(pending)
            pending = ""
    if pending:
        if pieces:
            pieces[-1] = f"{pieces[-1]} {pending}"
        else:
            pieces.append(pending)
    return pieces
