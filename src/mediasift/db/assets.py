"""Repository for assets, their blobs and the places they were ingested from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

Conn = Connection[dict[str, Any]]


@dataclass(frozen=True)
class AssetRow:
    id: UUID
    tenant: str
    sha256: str
    media_type: str
    mime: str
    size_bytes: int
    metadata: dict[str, Any]
    status: str
    created_at: datetime
    sources: list[str]


# The transaction-local setting the audit triggers read the actor from.
SET_ACTOR_SQL = "set_config('mediasift.actor', %s, true)"


def set_actor(conn: Conn, actor: str) -> None:
    """Name who or what makes the changes of the current transaction, for the audit trail."""
    conn.execute(f"SELECT {SET_ACTOR_SQL}", (actor,))


def insert_blob(conn: Conn, sha256: str, size_bytes: int, mime: str | None) -> None:
    conn.execute(
        "INSERT INTO blobs (sha256, size_bytes, mime) VALUES (%s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
        (sha256, size_bytes, mime),
    )


def register_asset(
    conn: Conn,
    *,
    tenant: str,
    sha256: str,
    media_type: str,
    mime: str,
    size_bytes: int,
    metadata: dict[str, Any],
) -> tuple[UUID, bool]:
    """Create the tenant's asset for these bytes, or find the one that exists; return (id, created).

    The unique (tenant, sha256) makes two concurrent ingests of the same bytes by one tenant resolve
    to one row; another tenant's copy is another asset over the same blob.
    """
    insert_blob(conn, sha256, size_bytes, mime)
    row = conn.execute(
        """
        INSERT INTO assets (tenant, sha256, media_type, mime, size_bytes, metadata)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (tenant, sha256) DO NOTHING
        RETURNING id
        """,
        (tenant, sha256, media_type, mime, size_bytes, Jsonb(metadata)),
    ).fetchone()
    if row is not None:
        return row["id"], True
    existing = conn.execute("SELECT id FROM assets WHERE tenant = %s AND sha256 = %s", (tenant, sha256)).fetchone()
    assert existing is not None
    return existing["id"], False


def add_source(conn: Conn, asset_id: UUID, source: str) -> None:
    conn.execute(
        """
        INSERT INTO asset_sources (asset_id, source) VALUES (%s, %s)
        ON CONFLICT (asset_id, source) DO UPDATE SET last_seen = now()
        """,
        (asset_id, source),
    )


def set_status(conn: Conn, asset_id: UUID, status: str) -> bool:
    """Set the asset's status; whether it changed (it was another)."""
    cursor = conn.execute(
        "UPDATE assets SET status = %s, updated_at = now() WHERE id = %s AND status IS DISTINCT FROM %s",
        (status, asset_id, status),
    )
    return cursor.rowcount > 0


_SELECT = """
    SELECT a.id, a.tenant, a.sha256, a.media_type, a.mime, a.size_bytes, a.metadata, a.status, a.created_at,
           coalesce(array_agg(s.source ORDER BY s.last_seen DESC) FILTER (WHERE s.source IS NOT NULL),
                    '{}') AS sources
    FROM assets a LEFT JOIN asset_sources s ON s.asset_id = a.id
"""


def get_asset(conn: Conn, asset_id: UUID, tenant: str | None = None) -> AssetRow | None:
    """The asset, when it exists and belongs to ``tenant`` (to any tenant when None)."""
    row = conn.execute(
        _SELECT + " WHERE a.id = %(id)s AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s) GROUP BY a.id",
        {"id": asset_id, "tenant": tenant},
    ).fetchone()
    return AssetRow(**row) if row else None


def find_assets_by_prefix(conn: Conn, prefix: str, tenant: str | None = None) -> list[UUID]:
    """Up to two ids of ``tenant``'s assets (any tenant's when None) starting with ``prefix``, so a
    user can type the first few characters. The prefix is compared as text, never as a pattern."""
    rows = conn.execute(
        "SELECT id FROM assets WHERE starts_with(id::text, %(prefix)s)"
        " AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s) ORDER BY id LIMIT 2",
        {"prefix": prefix.lower(), "tenant": tenant},
    ).fetchall()
    return [row["id"] for row in rows]


def list_assets(
    conn: Conn,
    *,
    media_type: str | None = None,
    status: str | None = None,
    tenant: str | None = None,
    after: tuple[datetime, UUID] | None = None,
    limit: int = 1000,
) -> list[AssetRow]:
    """Assets oldest first, of ``tenant`` (every tenant's when None), after the (created_at, id) of
    ``after`` when given: a page of a keyset pagination."""
    rows = conn.execute(
        _SELECT
        + """
        WHERE (%(media_type)s::text IS NULL OR a.media_type = %(media_type)s)
          AND (%(status)s::text IS NULL OR a.status = %(status)s)
          AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s)
          AND (%(after_at)s::timestamptz IS NULL OR (a.created_at, a.id) > (%(after_at)s, %(after_id)s::uuid))
        GROUP BY a.id ORDER BY a.created_at, a.id LIMIT %(limit)s
        """,
        {
            "media_type": media_type,
            "status": status,
            "tenant": tenant,
            "after_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    ).fetchall()
    return [AssetRow(**row) for row in rows]


def tenants_of(conn: Conn, asset_ids: list[UUID]) -> dict[UUID, str]:
    """The tenant of each of these assets that exists."""
    rows = conn.execute("SELECT id, tenant FROM assets WHERE id = ANY(%s)", (asset_ids,)).fetchall()
    return {row["id"]: row["tenant"] for row in rows}


def count_by(conn: Conn) -> list[dict[str, Any]]:
    """Asset counts per media type and status."""
    return conn.execute(
        "SELECT media_type, status, count(*) AS n, sum(size_bytes) AS bytes FROM assets "
        "GROUP BY media_type, status ORDER BY media_type, status"
    ).fetchall()


def audit_trail(conn: Conn, asset_id: UUID, limit: int = 1000) -> list[dict[str, Any]]:
    """Changes of the asset's rows (the asset, its sources, its operator runs), oldest first."""
    return conn.execute(
        "SELECT at, actor, action, entity, entity_id FROM audit_log"
        " WHERE entity_id = %(id)s OR starts_with(entity_id, %(id)s || ':') ORDER BY id LIMIT %(limit)s",
        {"id": str(asset_id), "limit": limit},
    ).fetchall()


def blob_info(conn: Conn, sha256: str, tenant: str | None = None) -> dict[str, Any] | None:
    """A stored blob's media type, size and whether it is an asset's original bytes (not a derived
    thumbnail or keyframe), when ``tenant`` (any tenant when None) has an asset of those bytes or an
    artifact stored as them. None otherwise."""
    return conn.execute(
        """
        SELECT coalesce(own.mime, b.mime, 'application/octet-stream') AS mime, b.size_bytes,
               own.id IS NOT NULL AS original
        FROM blobs b
        LEFT JOIN LATERAL (SELECT a.id, a.mime FROM assets a WHERE a.sha256 = b.sha256
                           AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s) LIMIT 1) own ON true
        WHERE b.sha256 = %(sha)s
          AND (own.id IS NOT NULL OR EXISTS (
                SELECT 1 FROM artifacts r JOIN assets a ON a.id = r.asset_id
                WHERE r.blob_sha256 = b.sha256 AND (%(tenant)s::text IS NULL OR a.tenant = %(tenant)s)))
        """,
        {"sha": sha256, "tenant": tenant},
    ).fetchone()
