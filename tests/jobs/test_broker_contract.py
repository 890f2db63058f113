"""The broker contract, run unchanged against every backend, each a real server."""

from __future__ import annotations

import threading
import time

from mediasift.jobs.broker import Broker
from mediasift.jobs.model import ErrorClass, Failure, Job, Lane

from support.databases import LEASE_S


def job(n: int | str, lane: Lane = Lane.BATCH, **extra: object) -> Job:
    return Job(id=f"job-{n}", kind="test", lane=lane, group="g", payload={"n": n}, **extra)  # type: ignore[arg-type]


ALL = {Lane.INTERACTIVE: 100, Lane.BATCH: 100}


def drain(broker: Broker, consumer: str = "c1", wait_s: float = 0.2) -> list:
    out = []
    while batch := broker.fetch(consumer, ALL, wait_s):
        out.extend(batch)
    return out


def test_published_jobs_are_delivered_once_and_acked_away(broker: Broker) -> None:
    broker.publish([job(i) for i in range(5)])
    got = drain(broker)
    assert sorted(d.job.payload["n"] for d in got) == [0, 1, 2, 3, 4]
    assert all(d.attempt == 1 and d.job.kind == "test" and d.job.group == "g" for d in got)
    assert broker.stats().in_flight == 5
    broker.ack(got)
    stats = broker.stats()
    assert stats.depth == 0 and stats.in_flight == 0 and stats.dead == 0
    assert broker.fetch("c1", ALL, 0.1) == []


def test_jobs_published_together_come_out_in_the_order_given(broker: Broker) -> None:
    """The pipeline queues an operator's followers longest first; one by one, they come out so."""
    broker.publish([job(f"old{i}") for i in range(30)])
    broker.ack(drain(broker))  # rows gone: new ones may land anywhere in the table
    order = [17, 3, 25, 0, 11, 29, 8, 21, 5, 14]
    broker.publish([job(n) for n in order])
    got = []
    while batch := broker.fetch("c1", {Lane.BATCH: 1}, 0.5):
        got.extend(batch)
    assert [d.job.payload["n"] for d in got] == order
    broker.ack(got)


def test_fetch_takes_at_most_each_lanes_quota(broker: Broker) -> None:
    broker.publish([job(f"i{i}", Lane.INTERACTIVE) for i in range(4)] + [job(f"b{i}") for i in range(4)])
    assert broker.stats().ready == {"interactive": 4, "batch": 4}
    got = broker.fetch("c1", {Lane.INTERACTIVE: 3, Lane.BATCH: 1}, 0.5)
    lanes = sorted(d.job.lane.value for d in got)
    assert lanes == ["batch", "interactive", "interactive", "interactive"]
    got2 = broker.fetch("c1", {Lane.INTERACTIVE: 5}, 0.2)
    assert [d.job.lane for d in got2] == [Lane.INTERACTIVE]
    broker.ack(got + got2)


def test_a_blocked_fetch_wakes_when_a_job_arrives(broker: Broker) -> None:
    assert broker.fetch("c1", ALL, 0.3) == []
    timer = threading.Timer(0.3, lambda: broker.publish([job("late", Lane.INTERACTIVE)]))
    timer.start()
    start = time.monotonic()
    got = broker.fetch("c1", ALL, 5.0)
    elapsed = time.monotonic() - start
    timer.join()
    assert [d.job.id for d in got] == ["job-late"]
    assert elapsed < 2.0, f"woke after {elapsed:.2f}s"
    broker.ack(got)


def test_an_unacked_job_is_redelivered_after_its_lease(broker: Broker) -> None:
    broker.publish([job(1)])
    first = broker.fetch("crashed", ALL, 1.0)
    assert len(first) == 1
    assert broker.fetch("other", ALL, 0.2) == [], "held under lease"
    deadline = time.monotonic() + LEASE_S * 6
    again: list = []
    while not again and time.monotonic() < deadline:
        again = broker.fetch("other", ALL, 0.5)
    assert [d.job.id for d in again] == ["job-1"] and again[0].attempt == 2
    broker.ack(again)
    assert broker.stats().in_flight == 0


def test_extending_a_lease_keeps_the_job(broker: Broker) -> None:
    broker.publish([job(1)])
    held = broker.fetch("c1", ALL, 1.0)
    for _ in range(6):
        time.sleep(LEASE_S / 2)
        broker.extend(held)
        assert broker.fetch("c2", ALL, 0.05) == []
    broker.ack(held)
    time.sleep(LEASE_S * 1.5)
    assert broker.fetch("c2", ALL, 0.2) == []


def test_a_released_job_comes_back_after_its_delay(broker: Broker) -> None:
    broker.publish([job(1)])
    (held,) = broker.fetch("c1", ALL, 1.0)
    broker.release(held, delay_s=1.0)
    stats = broker.stats()
    assert stats.delayed == 1 and stats.in_flight == 0
    assert broker.fetch("c1", ALL, 0.3) == [], "not before its time"
    time.sleep(1.0)
    (back,) = broker.fetch("c1", ALL, 2.0)
    assert back.attempt == 2
    broker.release(back, delay_s=0.0, count_attempt=False)
    (paused,) = broker.fetch("c1", ALL, 2.0)
    assert paused.attempt == 2, "a release that does not count keeps the attempt number"
    broker.ack([paused])


def test_publishing_with_a_delay(broker: Broker) -> None:
    broker.publish([job(1)], delay_s=1.0)
    assert broker.fetch("c1", ALL, 0.3) == []
    time.sleep(0.8)
    got = broker.fetch("c1", ALL, 2.0)
    assert [d.job.id for d in got] == ["job-1"] and got[0].attempt == 1
    broker.ack(got)


def test_buried_jobs_wait_in_the_dead_letter_queue_until_redriven(broker: Broker) -> None:
    broker.publish([job(1), job(2)])
    got = {d.job.id: d for d in drain(broker)}
    broker.bury(got["job-1"], Failure(ErrorClass.PERMANENT, "corrupt input", "Traceback: ..."))
    broker.ack([got["job-2"]])
    (dead,) = broker.dead_letters()
    assert dead.job.id == "job-1" and dead.job.payload == {"n": 1}
    assert (dead.attempts, dead.error_class, dead.message) == (1, "permanent", "corrupt input")
    assert dead.traceback == "Traceback: ..." and dead.failed_at is not None
    stats = broker.stats()
    assert stats.dead == 1 and stats.depth == 0 and stats.in_flight == 0
    time.sleep(LEASE_S * 1.5)
    assert broker.fetch("c1", ALL, 0.2) == [], "a buried job is not redelivered"
    assert broker.redrive(["job-1", "job-unknown"]) == 1
    assert broker.dead_letters() == [] and broker.stats().dead == 0
    (back,) = broker.fetch("c1", ALL, 2.0)
    assert back.job.id == "job-1" and back.attempt == 1
    assert (back.job.max_attempts, back.job.timeout_s) == (job(1).max_attempts, job(1).timeout_s), "as queued"
    broker.bury(back, Failure(ErrorClass.PERMANENT, "corrupt again"))
    assert broker.redrive(["job-1"], {"job-1": (7, 123.0)}) == 1  # the redriving process's limits
    (again,) = broker.fetch("c1", ALL, 2.0)
    assert (again.job.max_attempts, again.job.timeout_s, again.attempt) == (7, 123.0, 1)
    broker.ack([again])


def test_dropped_dead_letters_are_gone_for_good(broker: Broker) -> None:
    broker.publish([job(1), job(2)])
    for delivery in drain(broker):
        broker.bury(delivery, Failure(ErrorClass.PERMANENT, "corrupt input"))
    assert broker.drop_dead(["job-1", "job-unknown"]) == 1
    assert [d.job.id for d in broker.dead_letters()] == ["job-2"] and broker.stats().dead == 1
    assert broker.drop_dead(["job-1"]) == 0, "dropping again finds nothing"
    assert broker.redrive(["job-1"]) == 0, "a dropped job cannot be re-driven"
    assert broker.drop_dead([]) == 0
    assert broker.fetch("c1", ALL, 0.2) == []


def test_a_job_already_queued_is_not_queued_twice(broker: Broker) -> None:
    broker.publish([job(1)])
    broker.publish([job(1)])
    got = drain(broker)
    assert [d.job.id for d in got] == ["job-1"]
    broker.ack(got)
    broker.publish([job(1)])
    again = drain(broker)
    assert [d.job.id for d in again] == ["job-1"], "once done, the same job may run again"
    broker.ack(again)


def test_attempts_carry_over_from_the_job(broker: Broker) -> None:
    broker.publish([job(1, attempts_before=3)])
    (got,) = broker.fetch("c1", ALL, 1.0)
    assert got.attempt == 4
    broker.ack([got])


def test_two_consumers_share_many_jobs_without_loss_or_duplicates(broker: Broker) -> None:
    broker.publish([job(i, Lane.INTERACTIVE if i % 3 else Lane.BATCH) for i in range(600)])
    seen: list[str] = []
    lock = threading.Lock()

    def consume(name: str) -> None:
        while batch := broker.fetch(name, {Lane.INTERACTIVE: 50, Lane.BATCH: 50}, 0.5):
            with lock:
                seen.extend(d.job.id for d in batch)
            broker.ack(batch)

    threads = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(seen) == 600 and len(set(seen)) == 600
    assert broker.stats().depth == 0


def test_a_consumer_of_some_groups_gets_theirs_and_postgres_leaves_the_rest_queued(broker: Broker) -> None:
    """A worker of some operators (``--operators``) asks for their groups. Every broker gives it those;
    PostgreSQL's claims no other, so the others' jobs wait for a worker of theirs with no delay, where
    Redis's and NATS's deliver every group (the runtime hands such a job back)."""
    broker.publish(
        [Job(id=f"g-{g}-{i}", kind="test", lane=Lane.BATCH, group=g) for i in range(3) for g in ("ocr", "asr")]
    )
    got = broker.fetch("ocr-worker", ALL, 0.5, frozenset({"ocr"}))
    groups = sorted(d.job.group for d in got)
    if broker.name == "postgres":
        assert groups == ["ocr"] * 3
        rest = broker.fetch("any-worker", ALL, 0.5)
        assert sorted(d.job.group for d in rest) == ["asr"] * 3, "queued and ready at once for the others"
    else:
        assert "ocr" in groups
