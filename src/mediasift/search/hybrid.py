"""One search over everything said, written and shown: keywords and meaning (and pictures, with a
CLIP model), fused into one ranking of moments."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from mediasift.db.connection import Database
from mediasift.search import lexical, semantic
from mediasift.search.hits import Hit, fuse

if TYPE_CHECKING:  # the door is handed in; importing it here would load the model catalog with the CLI
    from mediasift.inference.door import Inference

# Each ranking is searched this many times deeper than the results wanted, so fusion can lift a
# moment that one ranking puts low but another high.
DEPTH_PER_RESULT = 4


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
) -> list[Hit]:
    """Best moments first: one hit per asset and time window (the best of its segments).

    Hybrid: moments whose text has every word of the query (:mod:`lexical`) and the nearest by
    meaning (:mod:`semantic`), each vector ranking cut at its similarity floor, are merged by
    reciprocal rank fusion, keyword matches first among equals (their snippet shows the words). When
    no text has all the words and no CLIP model is configured, this is meaning-based search alone:
    nearest first, scored by cosine similarity, however far. Only ``tenant``'s assets are searched
    (every tenant's when None).
    """
    depth = limit * DEPTH_PER_RESULT
    if mode is SearchMode.KEYWORD:
        return lexical.rank(db, query, depth=depth, media_type=media_type, tenant=tenant)[:limit]
    vectors = semantic.rank(db, inference, query, depth=depth, media_type=media_type, tenant=tenant)
    hybrid = mode is SearchMode.HYBRID
    keyword = lexical.rank(db, query, depth=depth, media_type=media_type, tenant=tenant) if hybrid else []
    if not keyword and vectors.clip is None:
        return vectors.text[:limit]
    return fuse([keyword, *vectors.above_floors()])[:limit]
