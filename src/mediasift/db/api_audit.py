"""Repository for the audit of API actions: who (key, tenant, client address) did what to which
target, and how it ended."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

Conn = Connection[dict[str, Any]]


def record(
    conn: Conn,
    *,
    key_id: str | None,
    tenant: str | None,
    client: str,
    action: str,
    target: str,
    status: int,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO api_audit (key_id, tenant, client, action, target, status, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (key_id, tenant, client, action, target, status, Jsonb(detail or {})),
    )


def page(conn: Conn, *, tenant: str | None, after: int | None, limit: int) -> list[dict[str, Any]]:
    """Entries of ``tenant`` (every tenant's when None), oldest first, after the entry ``after``."""
    return conn.execute(
        "SELECT id, at, key_id, tenant, client, action, target, status, detail FROM api_audit"
        " WHERE (%(tenant)s::text IS NULL OR tenant = %(tenant)s) AND id > %(after)s"
        " ORDER BY id LIMIT %(limit)s",
        {"tenant": tenant, "after": after or 0, "limit": limit},
    ).fetchall()
