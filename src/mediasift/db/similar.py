"""Similarity SQL: an asset's own pictures (feature vector and perceptual hash) or text segments, and
the pictures of other assets whose perceptual hash is within a Hamming distance of given ones."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection

Conn = Connection[dict[str, Any]]


def vectors_of(conn: Conn, asset_id: UUID, model: str, limit: int) -> list[dict[str, Any]]:
    """The asset's segments that have a ``model`` vector (their own, or their text's shared one), in
    time order: key, start_s, end_s, embedding and, for pictures, the perceptual hash stored under the same key."""
    return conn.execute(
        """
        SELECT s.key, s.start_s, s.end_s, coalesce(e.embedding, v.embedding)::vector AS embedding,
               p.data->>'phash' AS phash
        FROM segments s
        JOIN embeddings e ON e.segment_id = s.id AND e.model = %(model)s
        LEFT JOIN search_vectors v ON v.id = e.search_vector_id
        LEFT JOIN artifacts p ON p.asset_id = s.asset_id AND p.kind = 'phash' AND p.key = s.key
        WHERE s.asset_id = %(asset)s
        ORDER BY s.start_s NULLS FIRST, s.key
        LIMIT %(limit)s
        """,
        {"asset": asset_id, "model": model, "limit": limit},
    ).fetchall()


def phash_neighbours(
    conn: Conn, asset_id: UUID | None, keys: list[str], hashes: list[str], max_distance: int, tenant: str | None
) -> list[dict[str, Any]]:
    """Pictures of other assets within ``max_distance`` bits of each of ``hashes`` (64-bit hex, the
    query pictures named by ``keys``): query_key, asset_id, media_type, source_path, start_s, end_s
    (of the matching picture's label segment) and distance; of ``tenant``'s assets only (every
    tenant's when None), but ``asset_id`` (None: every asset). A scan of every stored hash."""
    return conn.execute(
        """
        WITH q AS (SELECT * FROM unnest(%(keys)s::text[], %(hashes)s::text[]) AS q(key, phash)),
        hits AS (
            SELECT q.key AS query_key, o.asset_id, o.key,
                   bit_count(('x' || q.phash)::bit(64) # ('x' || (o.data->>'phash'))::bit(64)) AS distance
            FROM q JOIN artifacts o ON o.kind = 'phash' AND o.asset_id IS DISTINCT FROM %(asset)s::uuid
        )
        SELECT h.query_key, h.asset_id, a.media_type, h.distance, s.start_s, s.end_s,
               (SELECT src.source FROM asset_sources src WHERE src.asset_id = h.asset_id
                ORDER BY src.last_seen DESC LIMIT 1) AS source_path
        FROM hits h JOIN assets a ON a.id = h.asset_id
        LEFT JOIN segments s ON s.asset_id = h.asset_id AND s.key = h.key AND s.operator = 'labels'
        WHERE h.distance <= %(max)s AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s)
        ORDER BY h.distance
        """,
        {"asset": asset_id, "keys": keys, "hashes": hashes, "max": max_distance, "tenant": tenant},
    ).fetchall()
