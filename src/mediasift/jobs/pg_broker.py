"""The PostgreSQL broker: jobs are rows, deliveries are leases taken with ``FOR UPDATE SKIP LOCKED``,
idle consumers sleep on ``LISTEN`` until a publish ``NOTIFY``s them. The rows and their SQL are the
job-queue repository's (:mod:`mediasift.db.job_queue`); this module gives them the broker protocol.

Because the queue lives in the system of record, a job's completion can commit in the same
transaction as its results (``ack_within``) and dependents can be queued atomically with them
(``publish_within``): the pipeline never sees results without completion or the reverse.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from mediasift.db.job_queue import JobQueue, JobRow
from mediasift.jobs.model import DeadLetter, Delivery, Failure, Job, Lane, Limits, QueueStats

WAIT_SLICE_S = 0.5  # longest sleep between looks, so delayed jobs and expired leases are seen


class LeaseLost(Exception):
    """The job's lease expired and another consumer took it: this consumer's work must not commit."""


class PostgresBroker:
    name = "postgres"

    def __init__(self, url: str, *, lease_s: float = 30.0, namespace: str = "mediasift") -> None:
        self.queue = JobQueue(url, namespace)
        self.url = url
        self.lease_s = lease_s
        self.namespace = namespace
        self._last_reap = 0.0

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, jobs: Sequence[Job], *, delay_s: float = 0.0) -> None:
        if jobs:
            self.queue.publish([_row(job) for job in jobs], delay_s)

    def publish_within(self, conn: Any, jobs: Sequence[Job], *, delay_s: float = 0.0) -> None:
        """Queue jobs inside the caller's transaction; they become visible when it commits.

        A job already queued is left as it is; a dead one with the same id is queued afresh."""
        if jobs:
            self.queue.publish_within(conn, [_row(job) for job in jobs], delay_s)

    # -- consuming --------------------------------------------------------------------------------

    def fetch(
        self, consumer: str, quotas: Mapping[Lane, int], wait_s: float, groups: frozenset[str] | None = None
    ) -> list[Delivery]:
        deadline = time.monotonic() + wait_s
        while True:
            self._reap_expired_leases()
            got = self._claim(consumer, quotas, groups)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            self.queue.wait_for_notify(min(remaining, WAIT_SLICE_S))

    def _claim(self, consumer: str, quotas: Mapping[Lane, int], groups: frozenset[str] | None) -> list[Delivery]:
        claimed = self.queue.claim(
            consumer, [(lane.value, quota) for lane, quota in quotas.items()], self.lease_s, groups=groups
        )
        return [Delivery(job=_job(row), attempt=row.attempts, handle=token) for row, token in claimed]

    def _reap_expired_leases(self) -> None:
        """Return jobs whose consumer stopped heartbeating; at most a few times per lease."""
        now = time.monotonic()
        if now - self._last_reap >= self.lease_s / 4:
            self._last_reap = now
            self.queue.reap_expired_leases()

    # -- settling ---------------------------------------------------------------------------------

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self.queue.delete([d.handle for d in deliveries])

    def ack_within(self, conn: Any, deliveries: Sequence[Delivery]) -> None:
        """Complete jobs inside the caller's transaction. A lease that was lost (the job went to
        another consumer) raises :class:`LeaseLost` so the caller's results roll back."""
        if not deliveries:
            return
        deleted = self.queue.delete_within(conn, [d.handle for d in deliveries])
        if deleted != len(deliveries):
            raise LeaseLost(f"{len(deliveries) - deleted} of {len(deliveries)} leases were lost")

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self.queue.extend([d.handle for d in deliveries], self.lease_s)

    def release(self, delivery: Delivery, *, delay_s: float, count_attempt: bool = True) -> None:
        self.queue.release(delivery.handle, delay_s, count_attempt=count_attempt)

    def bury(self, delivery: Delivery, failure: Failure) -> None:
        self.queue.bury(delivery.handle, failure.error_class.value, failure.message, failure.traceback)

    # -- dead letters and counts ------------------------------------------------------------------

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        return [
            DeadLetter(job=_job(row.job), attempts=row.job.attempts, error_class=row.error_class,
                       message=row.error, traceback=row.traceback, failed_at=row.failed_at)
            for row in self.queue.dead(limit)
        ]  # fmt: skip

    def redrive(self, job_ids: Sequence[str], limits: Mapping[str, Limits] | None = None) -> int:
        return self.queue.redrive(job_ids, limits or {})

    def drop_dead(self, job_ids: Sequence[str]) -> int:
        return self.queue.drop_dead(job_ids) if job_ids else 0

    def forget_within(self, conn: Any, id_prefix: str) -> int:
        """Remove every job whose id starts with ``id_prefix`` (queued, delayed, in flight or dead)
        inside the caller's transaction, so they go exactly when what they were for goes."""
        return self.queue.forget_within(conn, id_prefix)

    def stats(self) -> QueueStats:
        stats = QueueStats(ready={lane.value: 0 for lane in Lane})
        for row in self.queue.counts():
            if row.state == "dead":
                stats.dead += row.n
            elif row.state == "leased":
                stats.in_flight += row.n
            elif row.delayed:
                stats.delayed += row.n
            else:
                stats.ready[row.lane] = stats.ready.get(row.lane, 0) + row.n
        return stats

    def purge(self) -> None:
        self.queue.purge()

    def close(self) -> None:
        self.queue.close()


def _row(job: Job) -> JobRow:
    return JobRow(job.id, job.kind, job.lane.value, job.group, job.payload, job.max_attempts, job.timeout_s,
                  job.attempts_before)  # fmt: skip


def _job(row: JobRow) -> Job:
    return Job(id=row.id, kind=row.kind, lane=Lane(row.lane), group=row.grp, payload=row.payload,
               max_attempts=row.max_attempts, timeout_s=row.timeout_s)  # fmt: skip
