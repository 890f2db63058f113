"""Repository for where each operator of each asset stands (``asset_jobs``), whatever the broker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Connection

from mediasift.db.assets import SET_ACTOR_SQL

Conn = Connection[Any]

ACTIVE = ("queued", "running", "retrying")


def set_state(
    conn: Conn,
    asset_id: UUID,
    operators: Sequence[str],
    state: str,
    *,
    lane: str,
    attempts: int | None = None,
    error_class: str | None = None,
    error: str | None = None,
    worker: str | None = None,
) -> None:
    """Record where these operators' jobs of the asset stand. ``worker`` names the worker that now
    holds them; without it the one that last held them stays named, except when they are queued again
    (then no worker holds them)."""
    conn.execute(
        """
        INSERT INTO asset_jobs (asset_id, operator, lane, state, attempts, error_class, error, worker)
        SELECT %(asset)s, op, %(lane)s, %(state)s, coalesce(%(attempts)s, 0), %(error_class)s, %(error)s,
               %(worker)s
        FROM unnest(%(ops)s::text[]) AS op
        ON CONFLICT (asset_id, operator) DO UPDATE SET
            state = EXCLUDED.state, lane = EXCLUDED.lane,
            attempts = coalesce(%(attempts)s, asset_jobs.attempts),
            error_class = EXCLUDED.error_class, error = EXCLUDED.error,
            worker = CASE WHEN EXCLUDED.state = 'queued' THEN NULL
                          ELSE coalesce(EXCLUDED.worker, asset_jobs.worker) END,
            updated_at = now()
        """,
        {"asset": asset_id, "ops": list(operators), "state": state, "lane": lane, "attempts": attempts,
         "error_class": error_class, "error": error, "worker": worker},
    )  # fmt: skip


def states(conn: Conn, asset_id: UUID) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT operator, lane, state, attempts, error_class, error, worker, updated_at FROM asset_jobs "
        "WHERE asset_id = %s ORDER BY operator",
        (asset_id,),
    ).fetchall()
    return {row["operator"]: row for row in rows}


def lock_asset(conn: Conn, asset_id: UUID, *, actor: str | None = None, durable: bool = True) -> None:
    """Serialise the transactions that finish jobs of one asset, so that when two operators finish
    at once the second sees the first and the operator needing both is queued exactly then. With
    ``actor``, the same statement names who makes the transaction's changes (as
    :func:`~mediasift.db.assets.set_actor` does): a job's transactions are mostly small statements,
    and each round trip costs the worker and the server about as much as the SQL itself.

    Not ``durable``: the transaction's commit does not wait for its write-ahead log to reach the disk
    (``synchronous_commit`` off, for this transaction only), so the lock is released sooner. Only for
    what a crash of the server may undo harmlessly: a later durable commit flushes the log up to it,
    so it is lost only with everything after it."""
    settings = ([SET_ACTOR_SQL] if actor is not None else []) + ([] if durable else [_NOT_DURABLE])
    lock = "pg_advisory_xact_lock(hashtextextended(%s::text, 0))"
    params = (actor, asset_id) if actor is not None else (asset_id,)
    conn.execute(f"SELECT {', '.join([*settings, lock])}", params)


_NOT_DURABLE = "set_config('synchronous_commit', 'off', true)"


def counts(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT lane, operator, state, count(*) AS n FROM asset_jobs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).fetchall()


def unfinished(conn: Conn, asset_ids: Sequence[UUID]) -> int:
    """How many of these assets are not yet done or failed."""
    row = conn.execute(
        "SELECT count(*) AS n FROM assets WHERE id = ANY(%s) AND status NOT IN ('done', 'failed')",
        (list(asset_ids),),
    ).fetchone()
    return int(row["n"]) if row else 0


def assets_without_jobs(conn: Conn, limit: int = 100_000) -> list[UUID]:
    """Assets registered but never queued (e.g. ingest stopped between recording and queueing)."""
    rows = conn.execute(
        "SELECT a.id FROM assets a WHERE a.status = 'pending' "
        "AND NOT EXISTS (SELECT 1 FROM asset_jobs j WHERE j.asset_id = a.id) ORDER BY a.created_at LIMIT %s",
        (limit,),
    ).fetchall()
    return [row["id"] for row in rows]
