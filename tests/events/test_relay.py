"""The relay against real servers: an event whose transaction commits late is still sent; a relay
that dies between publishing and recording it publishes again with the same event id (Redis and
JetStream keep one copy, Kafka two with one id); a sink that is down holds back only its own rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from uuid import uuid4

import pytest

from mediasift.config import Settings
from mediasift.db import outbox
from mediasift.events import envelope
from mediasift.service import Mediasift

from support.event_readers import jetstream_count, read_kafka, read_redis_stream
from support.servers import free_port


def _system(settings: Settings, broker_url: str, kafka: str) -> Mediasift:
    namespace = "ev" + uuid.uuid4().hex[:8]
    return Mediasift(
        settings.model_copy(
            update={"broker_url": broker_url, "queue_namespace": namespace, "kafka_bootstrap": kafka,
                    "kafka_topic": f"{namespace}.events"}
        )
    )  # fmt: skip


@pytest.fixture
def on_redis(settings: Settings, redis_server: str, kafka_server: str) -> Iterator[Mediasift]:
    system = _system(settings, redis_server, kafka_server)
    yield system
    system.close()


def _add(conn: object, system: Mediasift, tenant: str = "default") -> uuid.UUID:
    return outbox.add_event(conn, outbox.ANALYSED, tenant, uuid4(), {"n": 1}, sinks=system.settings.event_sinks)  # type: ignore[arg-type]


def test_an_event_committed_after_later_ones_is_still_sent(on_redis: Mediasift, redis_server: str) -> None:
    system = on_redis
    relay = system.relay()
    try:
        with system.db.transaction() as late:
            first = _add(late, system)  # the lower sequence number, not yet committed
            with system.db.transaction() as conn:
                second = _add(conn, system)
            assert relay.run_once() == 2  # the second event's two deliveries (topic, kafka)
        assert relay.run_once() == 2  # the first, now committed
        assert relay.run_once() == 0
    finally:
        relay.stop()
    stream = [event_id for event_id, _ in read_redis_stream(redis_server, f"{system.settings.queue_namespace}:events")]
    assert stream == [str(second), str(first)]
    kafka = read_kafka(system.settings.kafka_bootstrap, system.settings.kafka_topic)
    assert sorted(event_id for event_id, _ in kafka) == sorted([str(first), str(second)])


def test_a_relay_dying_after_publishing_publishes_again_with_the_same_id(
    on_redis: Mediasift, redis_server: str
) -> None:
    system = on_redis
    with system.db.transaction() as conn:
        event_id = _add(conn, system)
    relay = system.relay()
    try:
        # What a relay killed between publishing and committing did: claim, publish, never commit.
        with system.db.connect() as conn:
            claimed = outbox.claim(conn, relay.sinks, 10)
            assert {p.sink for p in claimed} == {"topic", "kafka"}
            for sink in (relay.topic, relay.kafka):
                assert sink is not None
                sink.publish([envelope.message(claimed[0].event)])
            conn.rollback()
        assert relay.run_once() == 2
        assert relay.run_once() == 0
    finally:
        relay.stop()
    namespace = system.settings.queue_namespace
    assert [i for i, _ in read_redis_stream(redis_server, f"{namespace}:events")] == [str(event_id)]  # deduplicated
    kafka = read_kafka(system.settings.kafka_bootstrap, system.settings.kafka_topic)
    assert [i for i, _ in kafka] == [str(event_id)] * 2  # consumers deduplicate on event-id
    assert kafka[0][1] == kafka[1][1] and kafka[0][1]["id"] == str(event_id)


def test_jetstream_keeps_one_copy_of_an_event_published_twice(settings: Settings, nats_server: str) -> None:
    system = _system(settings, nats_server, "")
    relay = system.relay()
    try:
        with system.db.transaction() as conn:
            _add(conn, system)
        with system.db.connect() as conn:
            (pending,) = outbox.claim(conn, relay.sinks, 10)
            assert relay.topic is not None
            relay.topic.publish([envelope.message(pending.event)])
            conn.rollback()
        assert relay.run_once() == 1
    finally:
        relay.stop()
        system.close()
    assert jetstream_count(nats_server, f"{system.settings.queue_namespace}_events") == 1


def test_a_sink_that_is_down_holds_back_only_its_own_deliveries(settings: Settings, redis_server: str) -> None:
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    system = _system(settings, redis_server, down)
    relay = system.relay()
    try:
        with system.db.transaction() as conn:
            event_id = _add(conn, system)
        assert relay.run_once() == 2
        with system.db.connect() as conn:
            assert outbox.pending_counts(conn) == {"kafka": 1}
            assert outbox.claim(conn, ["kafka"], 10) == []  # postponed: not due again at once
            row = conn.execute("SELECT attempts, last_error FROM event_deliveries").fetchone()
        assert row is not None and row["attempts"] == 1 and "Kafka" in row["last_error"]
    finally:
        relay.stop()
        system.close()
    stream = read_redis_stream(redis_server, f"{system.settings.queue_namespace}:events")
    assert [i for i, _ in stream] == [str(event_id)]
