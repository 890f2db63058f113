"""The PostgreSQL broker: jobs are rows, deliveries are leases taken with ``FOR UPDATE SKIP LOCKED``,
idle consumers sleep on ``LISTEN`` until a publish ``NOTIFY``s them.

Because the queue lives in the system of record, a job's completion can commit in the same
transaction as its results (``ack_within``) and dependents can be queued atomically with them
(``publish_within``): the pipeline never sees results without completion or the reverse.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from mediasift.db.migrate import ensure_schema
from mediasift.jobs.model import DeadLetter, Delivery, Failure, Job, Lane, QueueStats

Conn = psycopg.Connection[Any]

WAIT_SLICE_S = 0.5  # longest sleep between looks, so delayed jobs and expired leases are seen


class LeaseLost(Exception):
    """The job's lease expired and another consumer took it: this consumer's work must not commit."""


class PostgresBroker:
    name = "postgres"

    def __init__(self, url: str, *, lease_s: float = 30.0, namespace: str = "mediasift") -> None:
        ensure_schema(url)
        self.url = url
        self.lease_s = lease_s
        self.namespace = namespace
        self.channel = "mediasift_jobs_" + re.sub(r"[^a-z0-9_]", "_", namespace.lower())[:40]
        self.pool = ConnectionPool(url, min_size=1, max_size=8, kwargs={"autocommit": True}, open=True)
        self._listener: Conn | None = None
        self._listen_lock = threading.Lock()
        self._last_reap = 0.0

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, jobs: Sequence[Job], *, delay_s: float = 0.0) -> None:
        with self.pool.connection() as conn, conn.transaction():
            self.publish_within(conn, jobs, delay_s=delay_s)

    def publish_within(self, conn: Conn, jobs: Sequence[Job], *, delay_s: float = 0.0) -> None:
        """Queue jobs inside the caller's transaction; they become visible when it commits.

        A job already queued is left as it is; a dead one with the same id is queued afresh."""
        if not jobs:
            return
        rows = [
            (self.namespace, j.id, j.kind, j.lane.value, j.group, Jsonb(j.payload), j.max_attempts,
             j.timeout_s, j.attempts_before, delay_s)
            for j in jobs
        ]  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany(
                """
                INSERT INTO queue_jobs (namespace, id, kind, lane, grp, payload, max_attempts, timeout_s,
                                        attempts, state, run_after)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'ready', now() + make_interval(secs => %s))
                ON CONFLICT (namespace, id) DO UPDATE SET
                    kind = EXCLUDED.kind, lane = EXCLUDED.lane, grp = EXCLUDED.grp,
                    payload = EXCLUDED.payload,
                    max_attempts = EXCLUDED.max_attempts, timeout_s = EXCLUDED.timeout_s,
                    attempts = EXCLUDED.attempts, state = 'ready', run_after = EXCLUDED.run_after,
                    error_class = NULL, error = NULL, traceback = NULL, failed_at = NULL
                WHERE queue_jobs.state = 'dead'
                """,
                rows,
            )
        conn.execute("SELECT pg_notify(%s, '')", (self.channel,))

    # -- consuming --------------------------------------------------------------------------------

    def fetch(self, consumer: str, quotas: Mapping[Lane, int], wait_s: float) -> list[Delivery]:
        deadline = time.monotonic() + wait_s
        while True:
            self._reap_expired_leases()
            got = self._claim(consumer, quotas)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            self._wait_for_notify(min(remaining, WAIT_SLICE_S))

    def _claim(self, consumer: str, quotas: Mapping[Lane, int]) -> list[Delivery]:
        out: list[Delivery] = []
        with self.pool.connection() as conn:
            for lane, quota in quotas.items():
                if quota <= 0:
                    continue
                rows = conn.execute(
                    """
                    WITH picked AS (
                        SELECT id FROM queue_jobs
                        WHERE namespace = %(ns)s AND lane = %(lane)s AND state = 'ready'
                          AND run_after <= now()
                        ORDER BY run_after LIMIT %(n)s FOR UPDATE SKIP LOCKED
                    )
                    UPDATE queue_jobs q SET state = 'leased', attempts = q.attempts + 1,
                        lease_owner = %(consumer)s, lease_token = gen_random_uuid(),
                        lease_until = now() + make_interval(secs => %(lease)s)
                    FROM picked WHERE q.namespace = %(ns)s AND q.id = picked.id
                    RETURNING q.id, q.kind, q.lane, q.grp, q.payload, q.max_attempts, q.timeout_s, q.attempts,
                              q.lease_token
                    """,
                    {"ns": self.namespace, "lane": lane.value, "n": quota, "consumer": consumer,
                     "lease": self.lease_s},
                ).fetchall()  # fmt: skip
                out.extend(Delivery(job=_job(row), attempt=row[7], handle=row[8]) for row in rows)
        return out

    def _reap_expired_leases(self) -> None:
        """Return jobs whose consumer stopped heartbeating; at most a few times per lease."""
        now = time.monotonic()
        if now - self._last_reap < self.lease_s / 4:
            return
        self._last_reap = now
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE queue_jobs SET state = 'ready', run_after = now(), lease_owner = NULL, "
                "lease_token = NULL, lease_until = NULL "
                "WHERE namespace = %s AND state = 'leased' AND lease_until < now()",
                (self.namespace,),
            )

    def _wait_for_notify(self, timeout: float) -> None:
        if not self._listen_lock.acquire(timeout=timeout):
            return
        try:
            if self._listener is None or self._listener.closed:
                self._listener = psycopg.connect(self.url, autocommit=True)
                self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.OperationalError:
            self._listener = None
            time.sleep(min(timeout, 0.2))
        finally:
            self._listen_lock.release()

    # -- settling ---------------------------------------------------------------------------------

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        with self.pool.connection() as conn:
            self.ack_within(conn, deliveries, strict=False)

    def ack_within(self, conn: Conn, deliveries: Sequence[Delivery], *, strict: bool = True) -> None:
        """Complete jobs inside the caller's transaction. With ``strict``, a lease that was lost (the
        job went to another consumer) raises :class:`LeaseLost` so the caller's results roll back."""
        if not deliveries:
            return
        tokens = [d.handle for d in deliveries]
        deleted = conn.execute(
            "DELETE FROM queue_jobs WHERE namespace = %s AND lease_token = ANY(%s)", (self.namespace, tokens)
        ).rowcount
        if strict and deleted != len(deliveries):
            raise LeaseLost(f"{len(deliveries) - deleted} of {len(deliveries)} leases were lost")

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE queue_jobs SET lease_until = now() + make_interval(secs => %s) "
                "WHERE namespace = %s AND state = 'leased' AND lease_token = ANY(%s)",
                (self.lease_s, self.namespace, [d.handle for d in deliveries]),
            )

    def release(self, delivery: Delivery, *, delay_s: float, count_attempt: bool = True) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE queue_jobs SET state = 'ready', run_after = now() + make_interval(secs => %s), "
                "attempts = attempts - %s, lease_owner = NULL, lease_token = NULL, lease_until = NULL "
                "WHERE namespace = %s AND lease_token = %s",
                (delay_s, 0 if count_attempt else 1, self.namespace, delivery.handle),
            )
            conn.execute("SELECT pg_notify(%s, '')", (self.channel,))

    def bury(self, delivery: Delivery, failure: Failure) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE queue_jobs SET state = 'dead', error_class = %s, error = %s, traceback = %s, "
                "failed_at = now(), lease_owner = NULL, lease_token = NULL, lease_until = NULL "
                "WHERE namespace = %s AND lease_token = %s",
                (
                    failure.error_class.value,
                    failure.message,
                    failure.traceback,
                    self.namespace,
                    delivery.handle,
                ),
            )

    # -- dead letters and counts ------------------------------------------------------------------

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, kind, lane, grp, payload, max_attempts, timeout_s, attempts, error_class, error, "
                "traceback, failed_at FROM queue_jobs WHERE namespace = %s AND state = 'dead' "
                "ORDER BY failed_at, id LIMIT %s",
                (self.namespace, limit),
            ).fetchall()
        return [
            DeadLetter(job=_job(r), attempts=r[7], error_class=r[8], message=r[9] or "",
                       traceback=r[10] or "", failed_at=_as_datetime(r[11]))
            for r in rows
        ]  # fmt: skip

    def redrive(self, job_ids: Sequence[str]) -> int:
        with self.pool.connection() as conn:
            count = conn.execute(
                "UPDATE queue_jobs SET state = 'ready', attempts = 0, run_after = now(), error_class = NULL, "
                "error = NULL, traceback = NULL, failed_at = NULL "
                "WHERE namespace = %s AND state = 'dead' AND id = ANY(%s)",
                (self.namespace, list(job_ids)),
            ).rowcount
            conn.execute("SELECT pg_notify(%s, '')", (self.channel,))
        return count

    def stats(self) -> QueueStats:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT lane, state, run_after > now() AS delayed, count(*) AS n FROM queue_jobs "
                "WHERE namespace = %s GROUP BY 1, 2, 3",
                (self.namespace,),
            ).fetchall()
        stats = QueueStats(ready={lane.value: 0 for lane in Lane})
        for row in rows:
            if row["state"] == "dead":
                stats.dead += row["n"]
            elif row["state"] == "leased":
                stats.in_flight += row["n"]
            elif row["delayed"]:
                stats.delayed += row["n"]
            else:
                stats.ready[row["lane"]] = stats.ready.get(row["lane"], 0) + row["n"]
        return stats

    def purge(self) -> None:
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM queue_jobs WHERE namespace = %s", (self.namespace,))

    def close(self) -> None:
        self.pool.close()
        if self._listener is not None:
            self._listener.close()


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0], kind=row[1], lane=Lane(row[2]), group=row[3], payload=row[4], max_attempts=row[5],
        timeout_s=row[6],
    )  # fmt: skip


def _as_datetime(value: Any) -> datetime:
    assert isinstance(value, datetime)
    return value
