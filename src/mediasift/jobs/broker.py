"""The one small protocol every broker backend speaks, and the factory that picks one by URL.

Semantics every backend gives (tests/jobs/test_broker_contract.py holds them to it):

- at-least-once: a fetched job not acked within the lease (``lease_s``) is delivered again,
  to any consumer, with ``attempt`` one higher; ``extend`` renews the lease (a heartbeat);
- ``release(delivery, delay_s, count_attempt)`` returns a job to be delivered again after the delay;
  with ``count_attempt=False`` the attempt it just had is not counted (a job paused by a circuit
  breaker has not really been tried);
- ``bury`` moves a job to the dead-letter queue with its failure; ``redrive`` puts dead jobs back
  at attempt 1; ``drop_dead`` removes them for good;
- ``fetch`` takes up to ``quotas[lane]`` jobs from each lane and blocks up to ``wait_s`` only
  when none at all is ready; a job published with ``delay_s`` is not ready before then;
- publishing a job whose id is already queued (ready, delayed or in flight) may be dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mediasift.jobs.model import DeadLetter, Delivery, Failure, Job, Lane, Limits, QueueStats


class Broker(Protocol):
    name: str
    lease_s: float

    def publish(self, jobs: Sequence[Job], *, delay_s: float = 0.0) -> None: ...

    def fetch(
        self, consumer: str, quotas: Mapping[Lane, int], wait_s: float, groups: frozenset[str] | None = None
    ) -> list[Delivery]:
        """Up to each lane's quota of ready jobs, waiting up to ``wait_s`` for one. ``groups``: the job
        groups the consumer runs (None: all); a broker may deliver others (the runtime hands them back),
        only PostgreSQL's leaves them in the queue."""
        ...

    def ack(self, deliveries: Sequence[Delivery]) -> None: ...

    def extend(self, deliveries: Sequence[Delivery]) -> None: ...

    def release(self, delivery: Delivery, *, delay_s: float, count_attempt: bool = True) -> None: ...

    def bury(self, delivery: Delivery, failure: Failure) -> None: ...

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]: ...

    def redrive(self, job_ids: Sequence[str], limits: Mapping[str, Limits] | None = None) -> int:
        """Queue these dead jobs again at attempt 0; how many there were. ``limits`` (job id ->
        max_attempts, timeout_s) replaces the limits a job was queued with (the redriving process's
        settings: a job queued with a timeout of 0.5 s died again under any worker)."""
        ...

    def drop_dead(self, job_ids: Sequence[str]) -> int:
        """Remove these jobs' dead letters (their subject is gone); how many there were."""
        ...

    def stats(self) -> QueueStats: ...

    def purge(self) -> None:
        """Remove every job, queued, delayed, in flight or dead (tests and benchmarks)."""
        ...

    def close(self) -> None: ...


def open_broker(url: str, *, database_url: str, lease_s: float = 30.0, namespace: str = "mediasift") -> Broker:
    """The backend a URL names: empty or ``postgresql://`` (the default: the database itself),
    ``redis://`` (Redis Streams) or ``nats://`` (NATS JetStream). ``namespace`` keeps the queues
    of separate installations (or tests) sharing one server apart."""
    scheme = url.split("://", 1)[0] if url else "postgresql"
    if scheme in ("postgresql", "postgres"):
        from mediasift.jobs.pg_broker import PostgresBroker

        return PostgresBroker(url or database_url, lease_s=lease_s, namespace=namespace)
    if scheme in ("redis", "rediss", "unix"):
        from mediasift.jobs.redis_broker import RedisBroker

        return RedisBroker(url, lease_s=lease_s, namespace=namespace)
    if scheme in ("nats", "tls"):
        from mediasift.jobs.nats_broker import NatsBroker

        return NatsBroker(url, lease_s=lease_s, namespace=namespace)
    raise ValueError(f"unsupported broker URL {url!r}: use postgresql://, redis:// or nats://")
