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
    sha256: str
    media_type: str
    mime: str
    size_bytes: int
    metadata: dict[str, Any]
    status: str
    created_at: datetime
    sources: list[str]


def set_actor(conn: Conn, actor: str) -> None:
    """Name who or what makes the changes of the current transaction, for the audit trail."""
    conn.execute("SELECT set_config('mediasift.actor', %s, true)", (actor,))


def insert_blob(conn: Conn, sha256: str, size_bytes: int, mime: str | None) -> None:
    conn.execute(
        "INSERT INTO blobs (sha256, size_bytes, mime) VALUES (%s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
        (sha256, size_bytes, mime),
    )


def register_asset(
    conn: Conn, *, sha256: str, media_type: str, mime: str, size_bytes: int, metadata: dict[str, Any]
) -> tuple[UUID, bool]:
    """Create the asset for these bytes, or find the one that exists; return (id, created).

    The unique sha256 makes two concurrent ingests of the same bytes resolve to one row.
    """
    insert_blob(conn, sha256, size_bytes, mime)
    row = conn.execute(
        """
        INSERT INTO assets (sha256, media_type, mime, size_bytes, metadata)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (sha256) DO NOTHING
        RETURNING id
        """,
        (sha256, media_type, mime, size_bytes, Jsonb(metadata)),
    ).fetchone()
    if row is not None:
        return row["id"], True
    existing = conn.execute("SELECT id FROM assets WHERE sha256 = %s", (sha256,)).fetchone()
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


def set_status(conn: Conn, asset_id: UUID, status: str) -> None:
    conn.execute(
        "UPDATE assets SET status = %s, updated_at = now() WHERE id = %s AND status IS DISTINCT FROM %s",
        (status, asset_id, status),
    )


_SELECT = """
    SELECT a.id, a.sha256, a.media_type, a.mime, a.size_bytes, a.metadata, a.status, a.created_at,
           coalesce(array_agg(s.source ORDER BY s.last_seen DESC) FILTER (WHERE s.source IS NOT NULL),
                    '{}') AS sources
    FROM assets a LEFT JOIN asset_sources s ON s.asset_id = a.id
"""


def get_asset(conn: Conn, asset_id: UUID) -> AssetRow | None:
    row = conn.execute(_SELECT + " WHERE a.id = %s GROUP BY a.id", (asset_id,)).fetchone()
    return AssetRow(**row) if row else None


def find_assets_by_prefix(conn: Conn, prefix: str) -> list[UUID]:
    """Asset ids starting with ``prefix`` (so a user can type the first few characters)."""
    rows = conn.execute(
        "SELECT id FROM assets WHERE id::text LIKE %s ORDER BY id LIMIT 2", (prefix.lower() + "%",)
    ).fetchall()
    return [row["id"] for row in rows]


def list_assets(
    conn: Conn, *, media_type: str | None = None, status: str | None = None, limit: int = 1000
) -> list[AssetRow]:
    rows = conn.execute(
        _SELECT
        + """
        WHERE (%(media_type)s::text IS NULL OR a.media_type = %(media_type)s)
          AND (%(status)s::text IS NULL OR a.status = %(status)s)
        GROUP BY a.id ORDER BY a.created_at, a.id LIMIT %(limit)s
        """,
        {"media_type": media_type, "status": status, "limit": limit},
    ).fetchall()
    return [AssetRow(**row) for row in rows]


def count_by(conn: Conn) -> list[dict[str, Any]]:
    """Asset counts per media type and status."""
    return conn.execute(
        "SELECT media_type, status, count(*) AS n, sum(size_bytes) AS bytes FROM assets "
        "GROUP BY media_type, status ORDER BY media_type, status"
    ).fetchall()


def audit_trail(conn: Conn, entity_id_prefix: str, limit: int = 1000) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT at, actor, action, entity, entity_id FROM audit_log WHERE entity_id LIKE %s ORDER BY id LIMIT %s",
        (entity_id_prefix + "%", limit),
    ).fetchall()


def blob_mime(conn: Conn, sha256: str) -> str | None:
    """The media type of a stored blob: a derived one (thumbnail, keyframe) or an asset's own bytes.
    None when no such blob is recorded."""
    row = conn.execute(
        "SELECT coalesce(a.mime, b.mime, 'application/octet-stream') AS mime FROM blobs b"
        " LEFT JOIN assets a ON a.sha256 = b.sha256 WHERE b.sha256 = %s",
        (sha256,),
    ).fetchone()
    return None if row is None else str(row["mime"])
