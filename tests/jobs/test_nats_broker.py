"""What the NATS broker adds to the contract: odd job ids, bulk publishing, exact releases, restarts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediasift.jobs.model import Delivery, ErrorClass, Failure, Job, Lane
from mediasift.jobs.nats_broker import NatsBroker

from support.servers import NatsServer

LEASE_S = 1.0
ALL = {Lane.INTERACTIVE: 100, Lane.BATCH: 100}


@pytest.fixture
def broker(nats_server: str) -> Iterator[NatsBroker]:
    opened = NatsBroker(nats_server, lease_s=LEASE_S, namespace="n" + uuid.uuid4().hex[:10])
    yield opened
    opened.purge()
    opened.close()


def job(job_id: str, lane: Lane = Lane.BATCH) -> Job:
    return Job(id=job_id, kind="test", lane=lane, payload={"id": job_id})


def drain(broker: NatsBroker, wait_s: float = 0.3) -> list[Delivery]:
    out: list[Delivery] = []
    while batch := broker.fetch("c1", ALL, wait_s):
        out.extend(batch)
    return out


def test_job_ids_need_not_be_subject_tokens(broker: NatsBroker) -> None:
    ids = ["a.b.c", "with space", "*", ">", "ünï/cødé", "x" * 200]
    broker.publish([job(i) for i in ids])
    broker.publish([job(i, Lane.INTERACTIVE) for i in ids])  # queued already, in either lane
    got = drain(broker)
    assert sorted(d.job.id for d in got) == sorted(ids)
    broker.bury(got[0], Failure(ErrorClass.PERMANENT, "bad"))
    broker.ack(got[1:])
    assert [dead.job.id for dead in broker.dead_letters()] == [got[0].job.id]
    assert broker.redrive([got[0].job.id]) == 1
    (back,) = drain(broker)
    assert back.job.id == got[0].job.id and back.attempt == 1
    broker.ack([back])


def test_bulk_publishing_is_quick_and_deduplicated(broker: NatsBroker) -> None:
    jobs = [job(f"bulk-{i}") for i in range(10_000)]
    start = time.monotonic()
    broker.publish(jobs)
    elapsed = time.monotonic() - start
    broker.publish(jobs[:5_000])
    stats = broker.stats()
    assert stats.ready == {"interactive": 0, "batch": 10_000}
    assert elapsed < 10, f"publishing 10,000 jobs took {elapsed:.1f}s"


def test_delayed_jobs_are_counted_until_due(broker: NatsBroker) -> None:
    broker.publish([job(f"d{i}") for i in range(3)], delay_s=1.0)
    broker.publish([job("d0")])  # delayed is queued too
    stats = broker.stats()
    assert (stats.delayed, stats.ready["batch"], stats.in_flight) == (3, 0, 0)
    time.sleep(1.5)
    stats = broker.stats()
    assert (stats.delayed, stats.ready["batch"]) == (0, 3)


def test_a_stale_release_does_not_queue_a_finished_job_again(broker: NatsBroker) -> None:
    broker.publish([job("slow")])
    (stale,) = broker.fetch("c1", ALL, 1.0)
    time.sleep(LEASE_S * 1.5)
    (fresh,) = broker.fetch("c2", ALL, 2.0)
    assert fresh.attempt == 2
    broker.ack([fresh])
    broker.release(stale, delay_s=0.0)  # its lease ran out and another worker finished the job
    assert broker.fetch("c1", ALL, 0.5) == []
    assert broker.stats().depth == 0


def test_purge_leaves_a_working_broker(broker: NatsBroker) -> None:
    broker.publish([job("a"), job("b")], delay_s=30)
    broker.purge()
    assert broker.stats().depth == 0
    broker.publish([job("a")])
    (got,) = broker.fetch("c1", ALL, 1.0)
    broker.ack([got])


def test_a_server_restart_loses_nothing(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats")
    url = server.start()
    broker = NatsBroker(url, lease_s=LEASE_S, namespace="restart")
    try:
        broker.publish([job(f"r{i}") for i in range(20)])
        held = broker.fetch("c1", {Lane.BATCH: 5}, 1.0)
        assert len(held) == 5
        server.stop()
        start = time.monotonic()
        assert broker.fetch("c1", ALL, 0.5) == []
        assert time.monotonic() - start < 2, "a fetch without a server still returns in time"
        server.start()
        broker.publish([job(f"r{i}") for i in range(20, 30)])
        attempts: dict[str, int] = {}
        deadline = time.monotonic() + 20
        while len(attempts) < 30 and time.monotonic() < deadline:  # the held five come back too
            batch = broker.fetch("c1", ALL, 0.5)
            attempts.update((d.job.id, d.attempt) for d in batch)
            broker.ack(batch)
        assert sorted(attempts) == sorted(f"r{i}" for i in range(30))
        assert {attempts[d.job.id] for d in held} == {2}
        stats = broker.stats()
        assert stats.depth == 0 and stats.in_flight == 0
    finally:
        broker.purge()
        broker.close()
        server.stop()
