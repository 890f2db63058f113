"""Repository for the PostgreSQL job queue (``queue_jobs``): the SQL of the PostgreSQL broker.

Jobs are rows of one namespace; a delivery is a lease taken with ``FOR UPDATE SKIP LOCKED`` and
named by a fresh token; every change that makes a job ready ``NOTIFY``s the namespace's channel,
where idle consumers wait with ``LISTEN``. What a job means (its kind, its lane, its attempts) is
the broker's business (:mod:`mediasift.jobs.pg_broker`); this module only stores and moves rows.

Rows come back as tuples in the order of :class:`JobRow` (the claim adds the lease token, a dead
row its failure): the broker builds one job from each, the only per-job cost on its hot path.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from mediasift.db.migrate import ensure_schema

Conn = psycopg.Connection[Any]

_JOB_COLUMNS = "id, kind, lane, grp, payload, max_attempts, timeout_s, attempts"
ORDER_STEP_S = 1e-6  # between the ready times of jobs published together: they come out in the order given


class JobRow(NamedTuple):
    """A job as stored. ``attempts`` counts deliveries (when publishing: those spent before)."""

    id: str
    kind: str
    lane: str
    grp: str
    payload: dict[str, Any]
    max_attempts: int
    timeout_s: float
    attempts: int


class Claimed(NamedTuple):
    job: JobRow
    lease_token: UUID


class DeadRow(NamedTuple):
    job: JobRow
    error_class: str
    error: str
    traceback: str
    failed_at: datetime


class StateCount(NamedTuple):
    lane: str
    state: str  # ready, leased or dead
    delayed: bool  # ready, but not before its run_after
    n: int


class JobQueue:
    """The ``queue_jobs`` rows of one namespace, over a small pool of autocommit connections, and
    the ``LISTEN`` connection its idle consumers wait on."""

    def __init__(self, url: str, namespace: str) -> None:
        ensure_schema(url)
        self.url = url
        self.namespace = namespace
        self.channel = "mediasift_jobs_" + re.sub(r"[^a-z0-9_]", "_", namespace.lower())[:40]
        self.pool = ConnectionPool(url, min_size=1, max_size=8, kwargs={"autocommit": True}, open=True)
        self._listener: Conn | None = None
        self._listen_lock = threading.Lock()

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, jobs: Sequence[JobRow], delay_s: float) -> None:
        with self.pool.connection() as conn, conn.transaction():
            self.publish_within(conn, jobs, delay_s)

    def publish_within(self, conn: Conn, jobs: Sequence[JobRow], delay_s: float) -> None:
        """Insert jobs in the caller's transaction, ready after ``delay_s``. A job already queued is
        left as it is; a dead one with the same id is queued afresh. Jobs are handed out in the order
        given: each is ready a microsecond after the one before (one transaction's ``now()`` would
        tie them, and ties come out of the index in whatever order it holds them)."""
        rows = [(self.namespace, *job[:4], Jsonb(job.payload), *job[5:], delay_s + i * ORDER_STEP_S)
                for i, job in enumerate(jobs)]  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany(
                f"""
                INSERT INTO queue_jobs (namespace, {_JOB_COLUMNS}, state, run_after)
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
        self._notify(conn)

    def _notify(self, conn: Conn) -> None:
        conn.execute("SELECT pg_notify(%s, '')", (self.channel,))

    # -- consuming --------------------------------------------------------------------------------

    def claim(
        self, consumer: str, quotas: Sequence[tuple[str, int]], lease_s: float, *, groups: Iterable[str] | None = None
    ) -> list[Claimed]:
        """Lease up to ``n`` ready jobs of each ``(lane, n)`` of ``quotas``, oldest run time first,
        counting one attempt each; in one statement, whatever the number of lanes (a worker asks
        every lane each time it has room). ``groups``: only jobs of these groups (None: any)."""
        lanes = [(lane, n) for lane, n in quotas if n > 0]
        if not lanes:
            return []
        # Only a worker of some groups has them in its statement: the filter, there as "NULL or any of",
        # cost every other worker 6-9% of its jobs a second (bench/queue.py, PostgreSQL).
        of_groups = sql.SQL("" if groups is None else "AND grp = ANY(%(groups)s::text[])")
        with self.pool.connection() as conn:
            rows = conn.execute(
                sql.SQL("""
                WITH picked AS (
                    SELECT p.id FROM unnest(%(lanes)s::text[], %(counts)s::int[]) AS l(lane, n)
                    CROSS JOIN LATERAL (
                        SELECT id FROM queue_jobs
                        WHERE namespace = %(ns)s AND lane = l.lane AND state = 'ready' AND run_after <= now()
                          {of_groups}
                        ORDER BY run_after LIMIT l.n FOR UPDATE SKIP LOCKED
                    ) p
                )
                UPDATE queue_jobs q SET state = 'leased', attempts = q.attempts + 1,
                    lease_owner = %(consumer)s, lease_token = gen_random_uuid(),
                    lease_until = now() + make_interval(secs => %(lease)s)
                FROM picked WHERE q.namespace = %(ns)s AND q.id = picked.id
                RETURNING q.id, q.kind, q.lane, q.grp, q.payload, q.max_attempts, q.timeout_s, q.attempts,
                          q.lease_token
                """).format(of_groups=of_groups),
                {"ns": self.namespace, "lanes": [lane for lane, _ in lanes], "counts": [n for _, n in lanes],
                 "consumer": consumer, "lease": lease_s, "groups": None if groups is None else sorted(groups)},
            ).fetchall()  # fmt: skip
        order = {lane: index for index, (lane, _) in enumerate(lanes)}
        rows.sort(key=lambda row: order[row[2]])  # the lanes in the order asked (the first is served first)
        return [Claimed(JobRow(*row[:8]), row[8]) for row in rows]

    def reap_expired_leases(self) -> None:
        """Make jobs ready again whose lease ran out (their consumer stopped heartbeating)."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE queue_jobs SET state = 'ready', run_after = now(), lease_owner = NULL, "
                "lease_token = NULL, lease_until = NULL "
                "WHERE namespace = %s AND state = 'leased' AND lease_until < now()",
                (self.namespace,),
            )

    def wait_for_notify(self, timeout: float) -> None:
        """Sleep until a ``NOTIFY`` on the channel or ``timeout``; one caller listens at a time (the
        others wait on the lock, as long). A lost listening connection is opened again next time."""
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

    def delete(self, tokens: Sequence[UUID]) -> int:
        with self.pool.connection() as conn:
            return self.delete_within(conn, tokens)

    def delete_within(self, conn: Conn, tokens: Sequence[UUID]) -> int:
        """Remove the jobs leased under these tokens, in the caller's transaction; how many there were."""
        return conn.execute(
            "DELETE FROM queue_jobs WHERE namespace = %s AND lease_token = ANY(%s)", (self.namespace, list(tokens))
        ).rowcount

    def extend(self, tokens: Sequence[UUID], lease_s: float) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE queue_jobs SET lease_until = now() + make_interval(secs => %s) "
                "WHERE namespace = %s AND state = 'leased' AND lease_token = ANY(%s)",
                (lease_s, self.namespace, list(tokens)),
            )

    def release(self, token: UUID, delay_s: float, *, count_attempt: bool) -> None:
        """Make a leased job ready again after ``delay_s``; without ``count_attempt`` its last
        attempt is given back."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE queue_jobs SET state = 'ready', run_after = now() + make_interval(secs => %s), "
                "attempts = attempts - %s, lease_owner = NULL, lease_token = NULL, lease_until = NULL "
                "WHERE namespace = %s AND lease_token = %s",
                (delay_s, 0 if count_attempt else 1, self.namespace, token),
            )
            self._notify(conn)

    def bury(self, token: UUID, error_class: str, error: str, traceback: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE queue_jobs SET state = 'dead', error_class = %s, error = %s, traceback = %s, "
                "failed_at = now(), lease_owner = NULL, lease_token = NULL, lease_until = NULL "
                "WHERE namespace = %s AND lease_token = %s",
                (error_class, error, traceback, self.namespace, token),
            )

    # -- dead letters and counts ------------------------------------------------------------------

    def dead(self, limit: int) -> list[DeadRow]:
        """Dead jobs, the first to fail first."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS}, error_class, error, traceback, failed_at FROM queue_jobs "
                "WHERE namespace = %s AND state = 'dead' ORDER BY failed_at, id LIMIT %s",
                (self.namespace, limit),
            ).fetchall()
        return [DeadRow(JobRow(*row[:8]), row[8], row[9] or "", row[10] or "", row[11]) for row in rows]

    def redrive(self, job_ids: Sequence[str], limits: Mapping[str, tuple[int, float]] | None = None) -> int:
        """Make these dead jobs ready now, at attempt 0, with ``limits`` (id -> max_attempts,
        timeout_s) where given; how many there were."""
        ids = list(dict.fromkeys(job_ids))
        given = limits or {}
        with self.pool.connection() as conn:
            count = conn.execute(
                "UPDATE queue_jobs q SET state = 'ready', attempts = 0, run_after = now(), error_class = NULL, "
                "error = NULL, traceback = NULL, failed_at = NULL, "
                "max_attempts = coalesce(l.max_attempts, q.max_attempts), "
                "timeout_s = coalesce(l.timeout_s, q.timeout_s) "
                "FROM unnest(%s::text[], %s::int[], %s::float8[]) AS l(id, max_attempts, timeout_s) "
                "WHERE q.namespace = %s AND q.state = 'dead' AND q.id = l.id",
                (ids, [given[i][0] if i in given else None for i in ids],
                 [given[i][1] if i in given else None for i in ids], self.namespace),
            ).rowcount  # fmt: skip
            self._notify(conn)
        return count

    def drop_dead(self, job_ids: Sequence[str]) -> int:
        """Remove these dead jobs; how many there were."""
        with self.pool.connection() as conn:
            return conn.execute(
                "DELETE FROM queue_jobs WHERE namespace = %s AND state = 'dead' AND id = ANY(%s)",
                (self.namespace, list(job_ids)),
            ).rowcount

    def forget_within(self, conn: Conn, id_prefix: str) -> int:
        """Remove every job whose id starts with ``id_prefix``, whatever its state, in the caller's
        transaction; how many there were. A consumer holding one finds its lease gone: extending,
        releasing, burying or acking it then changes nothing."""
        return conn.execute(
            "DELETE FROM queue_jobs WHERE namespace = %s AND starts_with(id, %s)", (self.namespace, id_prefix)
        ).rowcount

    def counts(self) -> list[StateCount]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT lane, state, run_after > now() AS delayed, count(*) AS n FROM queue_jobs "
                "WHERE namespace = %s GROUP BY 1, 2, 3",
                (self.namespace,),
            ).fetchall()
        return [StateCount(*row) for row in rows]

    def purge(self) -> None:
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM queue_jobs WHERE namespace = %s", (self.namespace,))

    def close(self) -> None:
        self.pool.close()
        if self._listener is not None:
            self._listener.close()
