"""Repository for the outbox of asset events (``events``) and their pending deliveries.

:func:`add_event` is called inside the transaction that makes the change the event tells of, so an
event exists exactly when its change committed. It also queues one delivery per sink (the broker's
topic, Kafka, each of the tenant's webhooks that wants the type) and rings ``NOTIFY`` so that an
idle relay wakes at once. Relays claim due deliveries with ``FOR UPDATE SKIP LOCKED`` (many share
the work) and delete them in the same transaction once handed over.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import Connection
from psycopg.types.json import Jsonb

Conn = Connection[Any]

ANALYSED = "asset.analysed"
FAILED = "asset.failed"
DELETED = "asset.deleted"
EVENT_TYPES = (ANALYSED, FAILED, DELETED)
TOPIC_SINKS = frozenset({"topic", "kafka"})
CHANNEL = "mediasift_events"


@dataclass(frozen=True)
class Event:
    id: UUID
    type: str
    tenant: str
    asset_id: UUID
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Pending:
    """A delivery claimed by a relay: which event, to which sink (and webhook), tried how often."""

    id: int
    sink: str
    webhook_id: UUID | None
    attempts: int
    event: Event


def add_event(
    conn: Conn,
    type: str,
    tenant: str,
    asset_id: UUID,
    payload: dict[str, Any],
    *,
    sinks: Collection[str] = (),
) -> UUID:
    """Write an event in the caller's transaction and queue its deliveries: one per sink named in
    ``sinks`` ("topic", "kafka": those the configuration has, ``Settings.event_sinks``) and one per
    webhook of ``tenant`` that wants ``type``. Returns the event's id."""
    if type not in EVENT_TYPES:
        raise ValueError(f"not an event type: {type!r}")
    unknown = set(sinks) - TOPIC_SINKS
    if unknown:
        raise ValueError(f"not a sink: {', '.join(sorted(unknown))}")
    event_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO events (id, type, tenant, asset_id, payload) VALUES (%s, %s, %s, %s, %s)",
        (event_id, type, tenant, asset_id, Jsonb(payload)),
    )
    conn.execute(
        """
        INSERT INTO event_deliveries (event_id, sink, webhook_id)
        SELECT %(event)s, sink, NULL FROM unnest(%(sinks)s::text[]) AS sink
        UNION ALL
        SELECT %(event)s, 'webhook', w.id FROM webhooks w
        WHERE w.tenant = %(tenant)s AND w.removed_at IS NULL AND %(type)s = ANY (w.event_types)
        """,
        {"event": event_id, "sinks": sorted(set(sinks)), "tenant": tenant, "type": type},
    )
    conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return event_id


def claim(conn: Conn, sinks: Sequence[str], limit: int) -> list[Pending]:
    """Lock up to ``limit`` due deliveries to these sinks, oldest first, skipping those another relay
    holds. They stay locked until the caller's transaction ends: delete (:func:`delivered`) or
    postpone (:func:`postpone`) them before it commits; a rollback or a crash leaves them as they were."""
    rows = conn.execute(
        """
        WITH due AS (
            SELECT id FROM event_deliveries
            WHERE sink = ANY(%(sinks)s) AND not_before <= now()
            ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
        )
        SELECT d.id, d.sink, d.webhook_id, d.attempts,
               e.id AS event_id, e.type, e.tenant, e.asset_id, e.payload, e.created_at
        FROM event_deliveries d JOIN due USING (id) JOIN events e ON e.id = d.event_id
        ORDER BY d.id
        """,
        {"sinks": list(sinks), "limit": limit},
    ).fetchall()
    return [
        Pending(
            id=r["id"], sink=r["sink"], webhook_id=r["webhook_id"], attempts=r["attempts"],
            event=Event(id=r["event_id"], type=r["type"], tenant=r["tenant"], asset_id=r["asset_id"],
                        payload=r["payload"], created_at=r["created_at"]),
        )
        for r in rows
    ]  # fmt: skip


def delivered(conn: Conn, delivery_ids: Sequence[int]) -> None:
    if delivery_ids:
        conn.execute("DELETE FROM event_deliveries WHERE id = ANY(%s)", (list(delivery_ids),))


def postpone(conn: Conn, delivery_ids: Sequence[int], delay_s: float, error: str) -> None:
    """Count a failed hand-over and make the deliveries due again after ``delay_s``."""
    if delivery_ids:
        conn.execute(
            "UPDATE event_deliveries SET attempts = attempts + 1, last_error = %s,"
            " not_before = now() + make_interval(secs => %s) WHERE id = ANY(%s)",
            (error[:2000], delay_s, list(delivery_ids)),
        )


def get_event(conn: Conn, event_id: UUID) -> Event | None:
    row = conn.execute(
        "SELECT id, type, tenant, asset_id, payload, created_at FROM events WHERE id = %s", (event_id,)
    ).fetchone()
    return Event(**row) if row else None


def events_of(conn: Conn, *, tenant: str | None = None, asset_id: UUID | None = None) -> list[Event]:
    """Events (of ``tenant``, every tenant's when None; of one asset when given), in sequence order."""
    rows = conn.execute(
        "SELECT id, type, tenant, asset_id, payload, created_at FROM events"
        " WHERE (%(tenant)s::text IS NULL OR tenant = %(tenant)s)"
        " AND (%(asset)s::uuid IS NULL OR asset_id = %(asset)s) ORDER BY seq",
        {"tenant": tenant, "asset": asset_id},
    ).fetchall()
    return [Event(**row) for row in rows]


def pending_counts(conn: Conn) -> dict[str, int]:
    """Deliveries not yet handed over, per sink."""
    rows = conn.execute("SELECT sink, count(*) AS n FROM event_deliveries GROUP BY sink").fetchall()
    return {row["sink"]: int(row["n"]) for row in rows}


def asset_summary(conn: Conn, asset_id: UUID) -> dict[str, Any]:
    """What an asset's analysis left, for its event: the operators that ran, its segments counted
    by kind, and the operators that failed with their error's first line."""
    runs = conn.execute(
        "SELECT operator, status, error FROM operator_runs WHERE asset_id = %s ORDER BY operator", (asset_id,)
    ).fetchall()
    kinds = conn.execute(
        "SELECT kind, count(*) AS n FROM segments WHERE asset_id = %s GROUP BY kind ORDER BY kind", (asset_id,)
    ).fetchall()
    return {
        "operators": [r["operator"] for r in runs if r["status"] == "done"],
        "segments": {r["kind"]: int(r["n"]) for r in kinds},
        "failed": {
            r["operator"]: (r["error"] or "").strip().partition("\n")[0][:500] for r in runs if r["status"] == "failed"
        },
    }


def redact_events(conn: Conn, asset_id: UUID) -> int:
    """Keep only the fact of an erased asset's earlier events (type, tenant, id, time, status): their
    summaries go, error lines being the asset's content. Deliveries still pending send the redacted
    payload. Returns how many events were redacted."""
    rows = conn.execute(
        """
        UPDATE events SET payload = jsonb_build_object('status', payload -> 'status', 'redacted', true)
        WHERE asset_id = %s AND type <> %s AND NOT payload ? 'redacted'
        RETURNING id
        """,
        (asset_id, DELETED),
    ).fetchall()
    return len(rows)


def wake(conn: Conn) -> None:
    """Ring the relays' channel with no event: a relay told to stop hears it and ends at once,
    rather than after its wait."""
    conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))


class Listener:
    """A connection of its own that hears :func:`add_event`'s ``NOTIFY``: opened on first use and
    again after it is lost."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Conn | None = None

    def wait(self, timeout: float) -> None:
        """Return when an event was written since the last wait, or after ``timeout``."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.url, autocommit=True)
                self._conn.execute(f"LISTEN {CHANNEL}")
            heard = list(self._conn.notifies(timeout=timeout, stop_after=1))
            if heard:  # and the rest that came meanwhile: one pass takes all their events
                list(self._conn.notifies(timeout=0))
        except psycopg.Error:
            self.close()
            time.sleep(timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
