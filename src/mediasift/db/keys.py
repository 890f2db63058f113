"""Repository for tenants and API keys (stored as the SHA-256 of their secret)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

Conn = Connection[dict[str, Any]]

_COLUMNS = "id, tenant, scope, name, created_at, expires_at, revoked_at"


def ensure_tenant(conn: Conn, name: str) -> None:
    conn.execute("INSERT INTO tenants (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (name,))


def insert_key(
    conn: Conn, *, key_id: str, tenant: str, scope: str, secret_sha256: bytes, name: str, expires_at: datetime | None
) -> dict[str, Any]:
    row = conn.execute(
        f"INSERT INTO api_keys (id, tenant, scope, secret_sha256, name, expires_at) VALUES (%s, %s, %s, %s, %s, %s)"
        f" RETURNING {_COLUMNS}",
        (key_id, tenant, scope, secret_sha256, name, expires_at),
    ).fetchone()
    assert row is not None
    return row


def usable_key(conn: Conn, key_id: str) -> dict[str, Any] | None:
    """The key with its secret's hash, when it exists, is not revoked and has not expired."""
    return conn.execute(
        f"SELECT {_COLUMNS}, secret_sha256 FROM api_keys WHERE id = %s AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now())",
        (key_id,),
    ).fetchone()


def list_keys(conn: Conn, tenant: str | None) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {_COLUMNS} FROM api_keys WHERE %(tenant)s::text IS NULL OR tenant = %(tenant)s"
        " ORDER BY created_at, id",
        {"tenant": tenant},
    ).fetchall()


def revoke(conn: Conn, key_id: str, tenant: str | None) -> bool:
    """Revoke the key (of ``tenant``, when given); whether there was one not yet revoked."""
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL"
        " AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s) RETURNING id",
        {"id": key_id, "tenant": tenant},
    ).fetchone()
    return row is not None


def count_usable_admin_keys(conn: Conn) -> int:
    row = conn.execute(
        "SELECT count(*) AS n FROM api_keys WHERE scope = 'admin' AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now())"
    ).fetchone()
    return int(row["n"]) if row else 0
