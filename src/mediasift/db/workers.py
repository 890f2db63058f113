"""Repository for the worker registry: who is alive, what each holds, what each has done."""

from __future__ import annotations

import os
import socket
from typing import Any

from psycopg import Connection

Conn = Connection[Any]

ALIVE_WITHIN_S = 15.0


def register(
    conn: Conn, worker_id: str, broker: str, lanes: list[str], concurrency: int, operators: list[str] | None
) -> None:
    """``operators``: the only ones it runs; None, every one."""
    conn.execute(
        """
        INSERT INTO workers (id, host, pid, broker, lanes, concurrency, operators)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL
        """,
        (worker_id, socket.gethostname(), os.getpid(), broker, lanes, concurrency, operators),
    )


def beat(conn: Conn, worker_id: str, in_flight: int, processed: int, failed: int) -> None:
    conn.execute(
        "UPDATE workers SET heartbeat_at = now(), in_flight = %s, processed = %s, failed = %s WHERE id = %s",
        (in_flight, processed, failed, worker_id),
    )


def stopped(conn: Conn, worker_id: str) -> None:
    conn.execute("UPDATE workers SET stopped_at = now(), in_flight = 0 WHERE id = %s", (worker_id,))


def alive(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(
        """
        SELECT id, host, pid, broker, lanes, operators, concurrency, started_at, heartbeat_at, in_flight, processed,
               failed
        FROM workers
        WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => %s)
        ORDER BY started_at
        """,
        (ALIVE_WITHIN_S,),
    ).fetchall()
