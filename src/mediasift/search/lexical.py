"""Search by the words themselves: what meaning-based search misses (a name, a part number, a rare
word the embedding model never learned, a quoted phrase)."""

from __future__ import annotations

from mediasift.db import keyword_search
from mediasift.db.connection import Database
from mediasift.db.search_filters import AssetFilters
from mediasift.search.hits import Hit, moments


def rank(
    db: Database, query: str, *, depth: int, media_type: str | None, tenant: str | None, filters: AssetFilters
) -> list[Hit]:
    """Up to ``depth`` moments of ``tenant``'s assets (every tenant's when None) that ``filters``
    leave, whose text has every word of ``query`` (web-search syntax), best first."""
    with db.transaction() as conn:
        rows = keyword_search.matching_segments(
            conn, query, limit=depth, media_type=media_type, tenant=tenant, filters=filters
        )
    return moments(rows, "keyword")
