"""Search SQL: nearest segments by cosine distance over one model's embeddings, and segments whose
text matches a keyword query."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from psycopg import Connection, sql

Conn = Connection[dict[str, Any]]

_ensured: set[tuple[str, str, int]] = set()
INDEX_LOCK_KEY = 0x6D656478


def _index_name(model: str) -> str:
    return "embeddings_hnsw_" + re.sub(r"[^a-z0-9]+", "_", model.lower())[:40]


def ensure_vector_index(conn: Conn, model: str, dim: int) -> None:
    """An HNSW index over one model's vectors (a partial index: dimensions differ between models)."""
    key = (conn.info.dsn, model, dim)
    if key in _ensured:
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK_KEY,))
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {name} ON embeddings "
            "USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WHERE model = {model}"
        ).format(name=sql.Identifier(_index_name(model)), dim=sql.Literal(dim), model=sql.Literal(model))
    )
    _ensured.add(key)


def nearest_segments(
    conn: Conn,
    model: str,
    query: np.ndarray,
    *,
    limit: int,
    media_type: str | None,
    tenant: str | None,
    model_version: str | None = None,
) -> list[dict[str, Any]]:
    """Segments nearest to ``query``, best first, with their asset and its latest source path: of
    ``tenant``'s assets only (every tenant's when None). With ``model_version``, only vectors that
    version made (another version's may not share its space).

    Iterative index scans keep a media-type filter from starving the result (pgvector >= 0.8).
    """
    dim = len(query)
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    conn.execute("SET LOCAL hnsw.ef_search = 100")
    query_sql = sql.SQL(
        """
        WITH nearest AS (
            SELECT e.segment_id, e.embedding::vector({dim}) <=> %(q)s AS distance
            FROM embeddings e JOIN assets a ON a.id = e.asset_id
            WHERE e.model = %(model)s AND (%(media_type)s::text IS NULL OR a.media_type = %(media_type)s)
              AND (%(version)s::text IS NULL OR e.model_version = %(version)s)
              AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s)
            ORDER BY e.embedding::vector({dim}) <=> %(q)s
            LIMIT %(limit)s
        )
        SELECT s.id AS segment_id, s.asset_id, a.media_type, s.kind, s.operator, s.start_s, s.end_s,
               s.text, 1 - n.distance AS score,
               (SELECT src.source FROM asset_sources src WHERE src.asset_id = s.asset_id
                ORDER BY src.last_seen DESC LIMIT 1) AS source_path
        FROM nearest n JOIN segments s ON s.id = n.segment_id JOIN assets a ON a.id = s.asset_id
        ORDER BY n.distance
        """
    ).format(dim=sql.Literal(dim))
    return conn.execute(
        query_sql,
        {
            "q": query,
            "model": model,
            "media_type": media_type,
            "limit": limit,
            "version": model_version,
            "tenant": tenant,
        },
    ).fetchall()


# The part of a long segment shown for a keyword match: the best fragment around the matched words.
HEADLINE_OPTIONS = 'MaxFragments=1, MaxWords=35, MinWords=15, ShortWord=0, StartSel="", StopSel=""'


def matching_segments(
    conn: Conn, query: str, *, limit: int, media_type: str | None, tenant: str | None
) -> list[dict[str, Any]]:
    """Segments whose text matches ``query`` in web-search syntax (all the words; "a phrase";
    ``or``; ``-excluded``), best ``ts_rank_cd`` first, shorter texts first among equals. Words are
    matched as written, lowercased (the ``simple`` configuration: no stemming, no stop words, any
    language), through the GIN index on ``segments.tsv``. ``text`` is the fragment that matched."""
    return conn.execute(
        """
        WITH q AS (SELECT websearch_to_tsquery('simple', %(query)s) AS q),
        matched AS (
            SELECT s.id, ts_rank_cd(s.tsv, q.q) AS score
            FROM segments s JOIN assets a ON a.id = s.asset_id, q
            WHERE s.tsv @@ q.q AND (%(media_type)s::text IS NULL OR a.media_type = %(media_type)s)
              AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s)
            ORDER BY score DESC, length(s.text), s.id
            LIMIT %(limit)s
        )
        SELECT s.id AS segment_id, s.asset_id, a.media_type, s.kind, s.operator, s.start_s, s.end_s,
               ts_headline('simple', s.text, q.q, %(headline)s) AS text, m.score,
               (SELECT src.source FROM asset_sources src WHERE src.asset_id = s.asset_id
                ORDER BY src.last_seen DESC LIMIT 1) AS source_path
        FROM matched m JOIN segments s ON s.id = m.id JOIN assets a ON a.id = s.asset_id, q
        ORDER BY m.score DESC, length(s.text), s.id
        """,
        {"query": query, "media_type": media_type, "limit": limit, "headline": HEADLINE_OPTIONS, "tenant": tenant},
    ).fetchall()
