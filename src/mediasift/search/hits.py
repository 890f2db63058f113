"""What a search returns: moments (a segment of an asset, or the whole of it), and the fusion of
several rankings of them into one.

Each hit carries two scores: ``score``, the ranking's own (a cosine, a ``ts_rank_cd``, a fusion
value), which orders; and ``relevance``, the same evidence on one readable scale from 0 to 1
(:mod:`mediasift.search.relevance`), which is what a person is shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from mediasift.search import relevance

SNIPPET_CHARS = 240
HIT_TEXT_CHARS = 4 * SNIPPET_CHARS
RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the weight of the very top ranks
MIN_WEIGHT = 0.01  # a hit at its ranking's floor (relevance 0) still counts, below any other

MomentKey = tuple[UUID, float | None, float | None]


@dataclass(frozen=True)
class Hit:
    """One moment found. ``score`` is the cosine similarity of its best segment when one vector
    ranking decided, its keyword rank (``ts_rank_cd``) in keyword mode, and the reciprocal-rank-fusion
    score (at most 3 / 61) when several rankings were fused. ``matched`` names the rankings that
    found it: ``keyword``, ``text`` (the text embedding), ``clip``. ``relevance`` is the readable
    score (0-1, the same meaning in every mode)."""

    asset_id: UUID
    media_type: str
    source_path: str | None
    start: float | None
    end: float | None
    score: float
    snippet: str
    kind: str
    matched: tuple[str, ...] = ()
    relevance: float = 0.0


def snippet(text: str | None) -> str:
    """A hit's text, spaces collapsed, at most :data:`HIT_TEXT_CHARS`: the answer shows
    :data:`SNIPPET_CHARS` of it, where the query's words are (``answers.excerpt``)."""
    text = " ".join((text or "").split())
    return text if len(text) <= HIT_TEXT_CHARS else text[: HIT_TEXT_CHARS - 1].rsplit(" ", 1)[0] + "…"


def moments(rows: list[dict[str, Any]], matched: str) -> list[Hit]:
    """Rows nearest first, as hits: the first (best) row of each asset and time window."""
    hits: list[Hit] = []
    seen: set[MomentKey] = set()
    for row in rows:
        key = (row["asset_id"], row["start_s"], row["end_s"])
        if key in seen:
            continue
        seen.add(key)
        hits.append(
            Hit(
                asset_id=row["asset_id"],
                media_type=row["media_type"],
                source_path=row["source_path"],
                start=_seconds(row["start_s"]),
                end=_seconds(row["end_s"]),
                score=round(float(row["score"]), 4),
                snippet=snippet(row["text"]),
                kind=row["kind"],
                matched=(matched,),
                relevance=relevance.calibrated(matched, float(row["score"])),
            )
        )
    return hits


def _seconds(value: float | None) -> float | None:
    """Milliseconds are as fine as any timestamp here is meant."""
    return None if value is None else round(float(value), 3)


def fuse(rankings: Sequence[list[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion (Cormack et al., 2009), each ranking's term weighted by the hit's
    relevance there: a moment scores the sum of relevance / (60 + rank) over the rankings it appears
    in, so agreement between rankings wins and no similarity scale has to be compared with another
    (CLIP cosines sit near 0.3, text ones anywhere up to 1, each ranking's relevance is calibrated).
    Unweighted, the first moment of a ranking came level with the other's first however weak it was:
    a text barely over the meaning floor (relevance 0.21) between keyword matches at 0.75. A moment keeps the
    hit of the first ranking that has it (put the one whose snippet best says why it matched first);
    its score becomes the fused one, its relevance the combination of each ranking's
    (:func:`relevance.combined`), and ``matched`` names every ranking that found it. Ties keep the
    order in which the moments were first seen."""
    fused: dict[MomentKey, float] = {}
    first: dict[MomentKey, Hit] = {}
    found_by: dict[MomentKey, list[str]] = {}
    evidence: dict[MomentKey, list[float]] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            key = (hit.asset_id, hit.start, hit.end)
            fused[key] = fused.get(key, 0.0) + max(hit.relevance, MIN_WEIGHT) / (RRF_K + rank)
            first.setdefault(key, hit)
            names = found_by.setdefault(key, [])
            if not set(hit.matched) <= set(names):  # a ranking's first (best) hit of the moment counts
                evidence.setdefault(key, []).append(hit.relevance)
            names += [name for name in hit.matched if name not in names]
    order = sorted(fused, key=lambda key: -fused[key])
    return [
        replace(
            first[key],
            score=round(fused[key], 6),
            matched=tuple(found_by[key]),
            relevance=relevance.combined(evidence.get(key, [])),
        )
        for key in order
    ]


def by_relevance(rankings: Sequence[list[Hit]]) -> list[Hit]:
    """Rankings of meaning alone (texts by the text model, texts in other languages by the
    multilingual one) merged in order of relevance, most relevant first: :func:`fuse`'s moments, its
    order kept among equals. Their relevances are calibrated to one scale (:mod:`relevance`), and a
    person reads them as the order: fused by rank, a ranking's first moment came level with the
    other's first, however different their relevance (a photo labelled "bubble" at 0.19 above the
    German text about bees at 0.27, for "honey bees")."""
    return sorted(fuse(rankings), key=lambda hit: -hit.relevance)
