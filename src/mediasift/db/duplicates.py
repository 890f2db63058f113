"""Duplicate-finding SQL: the stored video fingerprints of a tenant's assets, and the assets whose
bytes were ingested more than once (several sources of one asset, or one file in several tenants)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psycopg import Connection

Conn = Connection[dict[str, Any]]

_SOURCES = """
    coalesce((SELECT array_agg(s.source ORDER BY s.first_seen, s.source) FROM asset_sources s
              WHERE s.asset_id = a.id), '{}') AS sources
"""


# Fingerprints fetched from the server at a time: a parsed one is ~90 KB of Python objects (a
# 4-minute video's 390 samples), so a library's are read a batch at a time, not all at once.
FINGERPRINT_BATCH = 100


def fingerprints(conn: Conn, tenant: str | None) -> Iterator[dict[str, Any]]:
    """Every video of ``tenant`` (every tenant's when None) with a fingerprint, oldest first:
    asset_id, media_type, duration, sources (first seen first) and the fingerprint's data. Read
    through a server-side cursor, :data:`FINGERPRINT_BATCH` rows at a time (inside the caller's
    transaction)."""
    with conn.cursor(name="fingerprints") as cursor:
        cursor.itersize = FINGERPRINT_BATCH
        cursor.execute(
            f"""
        SELECT a.id AS asset_id, a.media_type, (f.data ->> 'duration')::float8 AS duration, f.data, {_SOURCES}
        FROM artifacts f JOIN assets a ON a.id = f.asset_id
        WHERE f.operator = 'fingerprint' AND f.kind = 'fingerprint'
          AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s)
        ORDER BY a.created_at, a.id
        """,
            {"tenant": tenant},
        )
        yield from cursor


def file_copies(conn: Conn, tenant: str | None) -> list[list[dict[str, Any]]]:
    """Groups of the same bytes among ``tenant``'s assets (every tenant's when None): an asset
    ingested from more than one source, or one file held by several tenants. Each row: asset_id,
    media_type, duration (from the probe, when it has one) and sources."""
    rows = conn.execute(
        f"""
        WITH chosen AS (
            SELECT a.id, a.sha256, a.media_type, a.created_at, (a.metadata ->> 'duration')::float8 AS duration,
                   count(*) OVER (PARTITION BY a.sha256) AS holders,
                   (SELECT count(*) FROM asset_sources s WHERE s.asset_id = a.id) AS places
            FROM assets a WHERE %(tenant)s::text IS NULL OR a.tenant = %(tenant)s
        )
        SELECT a.id AS asset_id, a.sha256, a.media_type, a.duration, {_SOURCES}
        FROM chosen a WHERE a.holders > 1 OR a.places > 1
        ORDER BY a.sha256, a.created_at, a.id
        """,
        {"tenant": tenant},
    ).fetchall()
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.pop("sha256"), []).append(row)
    return list(groups.values())
