"""Repository for webhooks: where a tenant's events are POSTed, and the latest outcome of each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Connection

Conn = Connection[dict[str, Any]]

# What listing shows: never the secret.
_COLUMNS = "id, tenant, url, event_types, created_at, last_attempt_at, last_status"


def insert(
    conn: Conn, *, webhook_id: UUID, tenant: str, url: str, event_types: Sequence[str], secret: str
) -> dict[str, Any]:
    row = conn.execute(
        f"INSERT INTO webhooks (id, tenant, url, event_types, secret) VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (webhook_id, tenant, url, list(event_types), secret),
    ).fetchone()
    assert row is not None
    return row


def list_webhooks(conn: Conn, tenant: str | None = None) -> list[dict[str, Any]]:
    """Webhooks not removed, of ``tenant`` (every tenant's when None), oldest first."""
    return conn.execute(
        f"SELECT {_COLUMNS} FROM webhooks WHERE removed_at IS NULL"
        " AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s) ORDER BY created_at, id",
        {"tenant": tenant},
    ).fetchall()


def remove(conn: Conn, webhook_id: UUID, tenant: str | None = None) -> bool:
    """Stop sending to a webhook of ``tenant`` (any tenant's when None); whether there was one. The row
    stays, so deliveries already queued find it removed and send nothing."""
    row = conn.execute(
        "UPDATE webhooks SET removed_at = now() WHERE id = %(id)s AND removed_at IS NULL"
        " AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s) RETURNING id",
        {"id": webhook_id, "tenant": tenant},
    ).fetchone()
    return row is not None


def target(conn: Conn, webhook_id: UUID) -> dict[str, Any] | None:
    """A webhook's tenant, URL and secret, for a delivery; None when it is removed or unknown."""
    return conn.execute(
        "SELECT id, tenant, url, secret FROM webhooks WHERE id = %s AND removed_at IS NULL", (webhook_id,)
    ).fetchone()


def record_attempt(conn: Conn, webhook_id: UUID, outcome: str) -> None:
    conn.execute(
        "UPDATE webhooks SET last_attempt_at = now(), last_status = %s WHERE id = %s", (outcome[:500], webhook_id)
    )
