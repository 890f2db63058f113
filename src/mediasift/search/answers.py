"""Answers a person reads: hits that touch in time merged into one moment, moments grouped per asset
(best first), each with the picture that shows it and the query's words marked in its snippet.

Grouping works on the ranked hits of one search (``limit`` x :data:`hybrid.DEPTH_PER_RESULT` per
ranking), never on every match: it costs the same at a million segments as at a thousand.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING
from uuid import UUID

from mediasift.db import search as search_repo
from mediasift.db.connection import Database
from mediasift.db.search_filters import NO_FILTERS, AssetFilters
from mediasift.search.hits import SNIPPET_CHARS, Hit
from mediasift.search.hybrid import DEPTH_PER_RESULT, SearchMode, ranked
from mediasift.search.query import sought

if TYPE_CHECKING:  # the door is handed in; importing it here would load the model catalog with the CLI
    from mediasift.inference.door import Inference

# Hits of one asset this close in time (seconds), or overlapping, are one moment: a sentence split
# over two transcript segments, a shot's labels and the words spoken over it.
ADJACENT_S = 1.0
# A touching hit less relevant than this share of the moment's best is absorbed without widening it:
# a shot's weak label match must not stretch the moment of the sentence spoken in it to the whole shot
# (and on to the shots beside it).
WIDEN_SHARE = 0.5
MOMENTS_PER_ASSET = 5
# Words not marked unless the query has nothing else: marking every "the" marks nothing.
UNMARKED = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "of", "on", "or",
     "the", "this", "that", "to", "was", "were", "with"}
)  # fmt: skip

Span = tuple[int, int]
_WORD = re.compile(r"\w+")
PICTURED = frozenset({"video", "image"})  # media whose moments have a keyframe or thumbnail


class Group(StrEnum):
    ASSET = "asset"  # one result per asset, its best moments inside
    MOMENT = "moment"  # one result per moment, an asset's moments apart


@dataclass(frozen=True)
class Moment:
    """A stretch of an asset found by a search: its hits merged. ``relevance`` (0-1) is its best
    hit's; ``snippet`` and ``kind`` the best hit's; ``highlights`` the query's words in the snippet
    as [start, end) offsets in code points; ``picture`` the sha256 of a keyframe or thumbnail
    showing it (None: nothing to show)."""

    asset_id: UUID
    media_type: str
    source_path: str | None
    start: float | None
    end: float | None
    relevance: float
    snippet: str
    highlights: tuple[Span, ...]
    kind: str
    matched: tuple[str, ...]
    picture: str | None = None


@dataclass(frozen=True)
class AssetAnswer:
    """An asset found: its best moments first; ``relevance`` is its best moment's."""

    asset_id: UUID
    media_type: str
    source_path: str | None
    relevance: float
    picture: str | None
    moments: tuple[Moment, ...]


def answer(
    db: Database,
    inference: Inference,
    query: str,
    *,
    group: Group = Group.ASSET,
    limit: int = 10,
    media_type: str | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    tenant: str | None = None,
    filters: AssetFilters = NO_FILTERS,
) -> list[AssetAnswer] | list[Moment]:
    """The ``limit`` best assets (``group`` asset) or moments (``group`` moment) for ``query``, in
    the order of the search's ranking, with their pictures."""
    hits = ranked(
        db, inference, query, depth=limit * DEPTH_PER_RESULT, media_type=media_type, mode=mode, tenant=tenant,
        filters=filters,
    )  # fmt: skip
    found = merge(hits)
    words = terms(query)
    if group is Group.MOMENT:
        return _with_pictures(db, [marked(m, words) for m in found[:limit]])
    assets = by_asset(found)[:limit]
    shown = _with_pictures(db, [marked(moment, words) for asset in assets for moment in asset.moments])
    pictured = iter(shown)
    out = []
    for asset in assets:
        moments = tuple(next(pictured) for _ in asset.moments)
        picture = next((m.picture for m in moments if m.picture), None)
        out.append(replace(asset, moments=moments, picture=picture))
    return out


def merge(hits: list[Hit]) -> list[Moment]:
    """Hits best first as moments best first: a hit that overlaps or comes within :data:`ADJACENT_S`
    of moments of its asset joins them (the moment keeps its best hit's place, snippet and kind, and
    spans them all), or, when it is much less relevant (:data:`WIDEN_SHARE`), is absorbed by the best
    of them; untimed hits (a text chunk, an image) stay apart."""
    moments: list[Moment | None] = []
    of_asset: dict[UUID, list[int]] = {}  # indexes into moments: a hit is compared with its asset's only
    for hit in hits:
        moment = Moment(
            hit.asset_id, hit.media_type, hit.source_path, hit.start, hit.end, hit.relevance, hit.snippet, (),
            hit.kind, hit.matched,
        )  # fmt: skip
        mine = of_asset.setdefault(hit.asset_id, [])
        touching = [i for i in mine if (m := moments[i]) is not None and _touch(m, moment)]
        if not touching:
            mine.append(len(moments))
            moments.append(moment)
            continue
        best = moments[touching[0]]  # the best ranked of them: moments are kept in rank order
        assert best is not None
        if moment.relevance < WIDEN_SHARE * best.relevance:
            continue
        for i in touching[1:]:  # the new hit can bridge two moments
            other = moments[i]
            assert other is not None
            best, moments[i] = _joined(best, other), None
        moments[touching[0]] = _joined(best, moment)
    return [m for m in moments if m is not None]


def _touch(a: Moment, b: Moment) -> bool:
    if a.asset_id != b.asset_id or None in (a.start, b.start):
        return False
    assert a.start is not None and b.start is not None
    a_end, b_end = a.end if a.end is not None else a.start, b.end if b.end is not None else b.start
    return a.start <= b_end + ADJACENT_S and b.start <= a_end + ADJACENT_S


def _joined(best: Moment, other: Moment) -> Moment:
    """``best`` stretched over ``other``, which it outranks."""
    assert best.start is not None and other.start is not None
    ends = [t for t in (best.end, other.end, best.start, other.start) if t is not None]
    matched = best.matched + tuple(name for name in other.matched if name not in best.matched)
    return replace(
        best,
        start=min(best.start, other.start),
        end=max(ends),
        relevance=max(best.relevance, other.relevance),
        matched=matched,
    )


def by_asset(moments: list[Moment]) -> list[AssetAnswer]:
    """Moments best first, grouped per asset in the order of each asset's best moment."""
    groups: dict[UUID, list[Moment]] = {}
    for moment in moments:
        groups.setdefault(moment.asset_id, []).append(moment)
    return [_asset(found) for found in groups.values()]


def _asset(moments: list[Moment]) -> AssetAnswer:
    """An asset's answer: its best moments, those of no relevance left out once one has some (they were
    shown at 0.000 under an asset that matched elsewhere)."""
    first = moments[0]
    best = max(m.relevance for m in moments)
    shown = [first, *(m for m in moments[1:] if m.relevance > 0 or best == 0)]
    return AssetAnswer(
        first.asset_id, first.media_type, first.source_path, best, None, tuple(shown[:MOMENTS_PER_ASSET])
    )


def _with_pictures(db: Database, moments: list[Moment]) -> list[Moment]:
    """The moments with their pictures: one query for all, none when no moment can have one."""
    if not any(m.media_type in PICTURED for m in moments):
        return moments
    with db.transaction() as conn:
        pictures = search_repo.pictures_of(conn, [(m.asset_id, m.start, m.end) for m in moments])
    return [replace(m, picture=p) for m, p in zip(moments, pictures, strict=True)]


# -- marking the words --------------------------------------------------------------------------------


def marked(moment: Moment, words: list[str]) -> Moment:
    """``moment`` with its snippet cut to the part that shows ``words`` (:func:`excerpt`) and them
    marked in it (done on the moments shown only)."""
    shown = excerpt(moment.snippet, words)
    return replace(moment, snippet=shown, highlights=highlights(shown, words))


# Shown before the first of the query's words when the snippet starts later in the text than its start.
LEAD_CHARS = 60


def excerpt(text: str, words: list[str]) -> str:
    """``text`` cut to :data:`SNIPPET_CHARS` at spaces: its start, or, where the first of ``words``
    (whole, any case and accents: :func:`highlights`) is not in that, from :data:`LEAD_CHARS` before
    it. Cut from the start only, a code or name past the 240th character was not in the snippet a
    keyword search showed."""
    head = _cut(text)
    if head == text:
        return text
    found = highlights(text, words)
    if not found or found[0][1] <= len(head) - 1:  # in the head (its last character is the "…")
        return head
    start = found[0][0]
    space = text.find(" ", max(0, start - LEAD_CHARS), start)
    return _cut("…" + text[space + 1 if space >= 0 else start :])


def _cut(text: str) -> str:
    """``text``, or the whole words of its first :data:`SNIPPET_CHARS` less one, and "…"."""
    if len(text) <= SNIPPET_CHARS:
        return text
    head = text[: SNIPPET_CHARS - 1]
    return (head if text[SNIPPET_CHARS - 1] == " " else head.rsplit(" ", 1)[0]) + "…"


def terms(query: str) -> list[str]:
    """The words of ``query`` (web-search syntax) a match shows: lowercased, without ``-excluded``
    ones and ``or``; the common words (:data:`UNMARKED`) only when there is nothing else."""
    tokens = sought(query).lower().split()
    wanted = [token[a:b] for token in tokens for a, b in words_of(token) if token[a:b] != "or"]
    content = [w for w in wanted if w not in UNMARKED]
    return list(dict.fromkeys(content or wanted))


def highlights(text: str, words: list[str]) -> tuple[Span, ...]:
    """Where ``words`` (single words, as :func:`terms` gives them) occur in ``text`` as whole words,
    any case and accents (:func:`folded`): [start, end) code-point offsets, in order, not overlapping.
    The text's words are looked up in a set: a pattern of the query's words compiled per query cost
    ~3 ms of a search's CPU."""
    wanted = {folded(word) for word in words}
    if not wanted:
        return ()
    return tuple((start, end) for start, end in words_of(text) if folded(text[start:end]) in wanted)


def words_of(text: str) -> Iterator[Span]:
    r"""The [start, end) of each word of ``text``: a run of word characters (``\w``) with the combining
    marks inside and after it, which ``\w`` leaves out: a letter and its accent written apart
    ("Mu\u0308ller") and a Devanagari word's vowel signs ("नमस्ते") are one word, not three. One
    pattern, in C: walking the words in Python to join them across marks cost 3.7x the marking's time."""
    pattern = _WORD if text.isascii() else _word_with_marks()
    return ((m.start(), m.end()) for m in pattern.finditer(text))


@cache
def _word_with_marks() -> re.Pattern[str]:
    r"""``\w`` then word characters or combining marks (those of the Basic Multilingual Plane: made once,
    in ~35 ms; every plane would take 0.5 s)."""
    marks = {c for c in range(0x10000) if unicodedata.category(chr(c)).startswith("M")}
    starts = sorted(c for c in marks if c - 1 not in marks)
    ends = sorted(c for c in marks if c + 1 not in marks)
    ranges = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in zip(starts, ends, strict=True))
    return re.compile(rf"\w[\w{ranges}]*")


# The letters keyword search folds besides the marks (migration 0017), lowercase: the word is
# lowercased first.
_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "ı": "i",
                          "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th"})  # fmt: skip


def folded(word: str) -> str:
    """``word`` lowercased and folded as keyword search matches it (migrations 0016 and 0017: "Café"
    is found by "cafe", "Łódź" by "lodz", "Straße" by "strasse"): decomposed by compatibility (NFKD),
    the combining marks U+0300-U+036F dropped, the letters of ``_LETTERS`` spelled plainly, composed
    again."""
    lowered = word.lower()
    if lowered.isascii():
        return lowered
    bare = "".join(char for char in unicodedata.normalize("NFKD", lowered) if not "\u0300" <= char <= "\u036f")
    return unicodedata.normalize("NFC", bare.translate(_LETTERS))
