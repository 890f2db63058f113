"""What the Redis backend adds to the broker contract: repeat-safe operations and surviving a restart."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from mediasift.jobs.model import ErrorClass, Failure, Job, Lane
from mediasift.jobs.redis_broker import RedisBroker

from support.servers import RedisServer

LEASE_S = 1.0
ALL = {Lane.INTERACTIVE: 100, Lane.BATCH: 100}


def job(n: int) -> Job:
    return Job(id=f"job-{n}", kind="test", lane=Lane.INTERACTIVE if n % 2 else Lane.BATCH, payload={"n": n})


@pytest.fixture
def broker(redis_server: str) -> Iterator[RedisBroker]:
    opened = RedisBroker(redis_server, lease_s=LEASE_S, namespace="t" + uuid.uuid4().hex[:10])
    yield opened
    opened.purge()
    opened.close()


def drain(broker: RedisBroker, wait_s: float = 0.2) -> list[str]:
    seen = []
    while batch := broker.fetch("c1", ALL, wait_s):
        seen += [d.job.id for d in batch]
        broker.ack(batch)
    return seen


def test_publishing_ten_thousand_jobs_takes_under_a_second(broker: RedisBroker) -> None:
    """About 0.3 s on an idle machine (a script call per 1,000 jobs); a round trip per job would not fit."""
    jobs = [job(n) for n in range(10_000)]
    start = time.monotonic()
    broker.publish(jobs)
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, f"took {elapsed:.2f}s"
    assert broker.stats().ready == {"interactive": 5_000, "batch": 5_000}


def test_settling_a_delivery_twice_changes_nothing(broker: RedisBroker) -> None:
    """The client retries a call whose reply a connection error lost; the repeat must be a no-op."""
    broker.publish([job(1), job(2)])
    held = {d.job.id: d for d in broker.fetch("c1", ALL, 1.0)}
    for _ in range(2):
        broker.release(held["job-1"], delay_s=0.0)
        broker.bury(held["job-2"], Failure(ErrorClass.PERMANENT, "bad"))
    assert [d.job.id for d in broker.dead_letters()] == ["job-2"]
    (again,) = broker.fetch("c1", ALL, 1.0)
    assert (again.job.id, again.attempt) == ("job-1", 2)
    broker.ack([again])
    broker.ack([again])
    stats = broker.stats()
    assert (stats.depth, stats.in_flight, stats.dead) == (0, 0, 1)


def test_extending_leaves_a_job_another_consumer_reclaimed(broker: RedisBroker, redis_server: str) -> None:
    broker.publish([job(1)])
    (first,) = broker.fetch("slow", ALL, 1.0)
    time.sleep(LEASE_S * 1.2)
    (second,) = broker.fetch("fast", ALL, 1.0)
    broker.extend([first])
    raw = redis.Redis.from_url(redis_server, decode_responses=True)
    (pending,) = raw.xpending_range(second.handle.stream, f"{broker.namespace}:workers", "-", "+", 10)
    raw.close()
    assert (pending["consumer"], pending["times_delivered"]) == ("fast", 2)
    broker.ack([second])


def test_a_consumer_group_removed_behind_its_back_is_recreated(broker: RedisBroker, redis_server: str) -> None:
    other = RedisBroker(redis_server, lease_s=LEASE_S, namespace=broker.namespace)
    other.purge()
    raw = redis.Redis.from_url(redis_server)
    # No stream, no group: as after a Redis that came back without its data.
    raw.delete(*(f"{broker.namespace}:lane:{lane.value}" for lane in Lane))
    raw.close()
    other.close()
    broker.publish([job(1)])
    assert broker.stats().ready["interactive"] == 1
    assert drain(broker) == ["job-1"]


def test_a_redis_restart_mid_run_loses_nothing(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    broker = RedisBroker(server.start(), lease_s=LEASE_S, namespace="restart")
    try:
        broker.publish([job(n) for n in range(200)])
        held = broker.fetch("c1", ALL, 1.0)
        server.stop()  # a clean shutdown writes the append-only file
        restart = threading.Timer(0.5, server.start)
        restart.start()
        broker.ack(held)  # retried until the server is back
        restart.join()
        seen = [d.job.id for d in held] + drain(broker)
        assert sorted(seen) == sorted(f"job-{n}" for n in range(200))
        stats = broker.stats()
        assert (stats.depth, stats.in_flight) == (0, 0)
    finally:
        broker.purge()
        broker.close()
        server.stop()
