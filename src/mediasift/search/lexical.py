"""Search by the words themselves: what meaning-based search misses (a name, a part number, a rare
word the embedding model never learned, a quoted phrase)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

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


# An excluded term of web-search syntax: a "-" at the start or after a space, then a word or a quoted
# phrase (websearch_to_tsquery reads it so; a "-" inside a word is a hyphen).
_EXCLUDED = re.compile(r'(?:^|\s)-(?:"([^"]*)"?|(\S+))')


def without_excluded(query: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` less those whose ``text`` has a term ``query`` excludes (``-word``, ``-"a phrase"``;
    whole words, any case): a meaning-based ranking finds texts near the query's words, excluded
    ones too ("orange -submarine" came back with texts about the submarine), where keywords drop them."""
    excluded = _exclusions(query)
    if excluded is None:
        return rows
    return [row for row in rows if not excluded.search(row["text"] or "")]


@lru_cache(maxsize=256)
def _exclusions(query: str) -> re.Pattern[str] | None:
    """The terms ``query`` excludes as one pattern (None: it excludes none), built once for both of a
    search's meaning rankings."""
    patterns = []
    for phrase, word in _EXCLUDED.findall(query):
        words = re.findall(r"\w+", phrase or word)
        if words:
            patterns.append(r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)")
    return re.compile("|".join(patterns), re.IGNORECASE) if patterns else None
