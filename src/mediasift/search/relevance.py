"""One readable relevance, 0 to 1, for every way a moment is found, so that 0.8 means the same in
keyword, semantic and hybrid search (a raw fusion score of 0.03, a cosine of 0.3 or a ts_rank of
0.1 says nothing to a person).

- ``text`` (MiniLM cosine): unrelated texts sit at 0.0-0.28, related ones from 0.4, a paraphrase
  at 0.7-0.9 (:mod:`mediasift.search.semantic`). Mapped linearly from :data:`TEXT_ZERO` (0) to
  :data:`TEXT_FULL` (1): 0.3 (the fusion floor) reads 0.17, 0.5 reads 0.5.
- ``clip`` (CLIP cosine, text tower against pictures): matching pictures sit at 0.2-0.35. Mapped
  from the model's own floor (0.2) over :data:`CLIP_SPAN`.
- ``multilingual`` (multilingual-e5, texts in other languages): scored by the hit's standing, in
  standard deviations above the query's background (:mod:`mediasift.search.background`); mapped from
  :data:`MULTILINGUAL_ZERO` over :data:`MULTILINGUAL_SPAN`: its fusion floor (1.8) reads 0.2, 3.8 reads 1.
- ``keyword`` (``ts_rank_cd``): a keyword match has every word of the query, so it reads at least
  0.5; the rank (~0.1 per occurrence of the words close together) lifts it towards 1 as
  ``0.5 + 0.5 * r / (r + KEYWORD_HALF)``: one occurrence 0.75.
- Several rankings (hybrid): combined as independent evidence, ``1 - prod(1 - r)``, so words and
  meaning that agree read higher than either alone; one ranking alone keeps its own relevance.
"""

from __future__ import annotations

from collections.abc import Iterable

TEXT_ZERO = 0.2
TEXT_FULL = 0.8
CLIP_FLOOR = 0.2
CLIP_SPAN = 0.12
KEYWORD_HALF = 0.1
MULTILINGUAL_ZERO = 1.3
MULTILINGUAL_SPAN = 2.5


def calibrated(ranking: str, score: float) -> float:
    """The relevance of a raw ``score`` of ``ranking`` (``text``, ``clip``, ``multilingual``, ``keyword``)."""
    if ranking == "keyword":
        rank = max(score, 0.0)
        return round(0.5 + 0.5 * rank / (rank + KEYWORD_HALF), 4)
    if ranking == "clip":
        return _clamped((score - CLIP_FLOOR) / CLIP_SPAN)
    if ranking == "multilingual":
        return _clamped((score - MULTILINGUAL_ZERO) / MULTILINGUAL_SPAN)
    return _clamped((score - TEXT_ZERO) / (TEXT_FULL - TEXT_ZERO))


def combined(relevances: Iterable[float]) -> float:
    """Relevance of a moment several rankings found: each ranking's as independent evidence."""
    missing = 1.0
    for value in relevances:
        missing *= 1.0 - value
    return round(1.0 - missing, 4)


def _clamped(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 4)
