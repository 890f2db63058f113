"""One search over everything said, written and shown: keywords and meaning (and pictures, with a
CLIP model), fused into one ranking of moments."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING

from mediasift.db.connection import Database
from mediasift.db.search_filters import NO_FILTERS, AssetFilters
from mediasift.search import lexical, semantic
from mediasift.search.hits import Hit, by_relevance, fuse

if TYPE_CHECKING:  # the door is handed in; importing it here would load the model catalog with the CLI
    from mediasift.inference.door import Inference

# Each ranking is searched this many times deeper than the results wanted, so fusion can lift a
# moment that one ranking puts low but another high.
DEPTH_PER_RESULT = 4

# Hybrid runs its keyword side here while the semantic side (query embedding, then SQL) runs in the
# caller's thread: each on its own pooled connection, so a query costs the slower side, not the sum.
_keyword_side = ThreadPoolExecutor(max_workers=8, thread_name_prefix="search-keyword")


class SearchMode(StrEnum):
    HYBRID = "hybrid"  # keywords and meaning, fused
    SEMANTIC = "semantic"  # meaning only (text embedding, and CLIP when configured)
    KEYWORD = "keyword"  # the words only


def search(
    db: Database,
    inference: Inference,
    query: str,
    *,
    limit: int = 10,
    media_type: str | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    tenant: str | None = None,
    filters: AssetFilters = NO_FILTERS,
) -> list[Hit]:
    """Best moments first: one hit per asset and time window (the best of its segments).

    Hybrid: moments whose text has every word of the query (:mod:`lexical`) and the nearest by
    meaning (:mod:`semantic`), each vector ranking cut at its similarity floor, are merged by
    reciprocal rank fusion, keyword matches first among equals (their snippet shows the words). When
    no text has all the words and no CLIP model is configured, this is meaning-based search alone:
    nearest first, scored by cosine similarity, down to the unrelated (relevance 0: nothing is shown
    for a query no text is related to), with the texts in other languages the multilingual model
    finds merged in by relevance (:func:`~mediasift.search.hits.by_relevance`).
    Only ``tenant``'s assets are searched (every tenant's when None), and of them those ``filters``
    leave.
    """
    return ranked(
        db, inference, query, depth=limit * DEPTH_PER_RESULT, media_type=media_type, mode=mode, tenant=tenant,
        filters=filters,
    )[:limit]  # fmt: skip


def ranked(
    db: Database,
    inference: Inference,
    query: str,
    *,
    depth: int,
    media_type: str | None,
    mode: SearchMode,
    tenant: str | None,
    filters: AssetFilters,
) -> list[Hit]:
    """Every hit of :func:`search` whose rankings were read ``depth`` deep, best first, uncut."""
    words = partial(lexical.rank, db, query, depth=depth, media_type=media_type, tenant=tenant, filters=filters)
    if mode is SearchMode.KEYWORD:
        return words()
    keyword_side = _keyword_side.submit(words) if mode is SearchMode.HYBRID else None
    vectors = semantic.rank(db, inference, query, depth=depth, media_type=media_type, tenant=tenant, filters=filters)
    keyword = keyword_side.result() if keyword_side is not None else []
    meaning = vectors.meaning_only if not keyword else None
    if meaning is not None:
        return meaning[0] if len(meaning) == 1 else by_relevance(meaning)
    return fuse([keyword, *vectors.above_floors()])
