"""Consumers of the events topics, as a user's program would read them: a core NATS subscription, a
Redis stream reader, a Kafka consumer, and a look at what the JetStream stream stores. Each gives
(event id, event JSON) pairs in the order it saw them."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import nats
import redis
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from nats.aio.msg import Msg

Seen = list[tuple[str, dict[str, Any]]]


class NatsSubscriber:
    """A core NATS subscription on ``subject`` (``<namespace>.events.>``), on a loop thread of its own."""

    def __init__(self, url: str, subject: str) -> None:
        self.seen: Seen = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._subscribe(url, subject), self._loop).result(10)

    async def _subscribe(self, url: str, subject: str) -> None:
        self._nc = await nats.connect(url)

        async def on_message(msg: Msg) -> None:
            self.seen.append(((msg.headers or {}).get("Nats-Msg-Id", ""), json.loads(msg.data)))

        await self._nc.subscribe(subject, cb=on_message)
        await self._nc.flush()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._nc.drain(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def jetstream_count(url: str, stream: str) -> int:
    """How many messages the JetStream stream holds (its dedupe keeps one per event id)."""

    async def count() -> int:
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().stream_info(stream)
            return int(info.state.messages)
        finally:
            await nc.close()

    return asyncio.run(count())


def read_redis_stream(url: str, stream: str) -> Seen:
    client = redis.Redis.from_url(url)
    try:
        entries = client.xrange(stream)
    finally:
        client.close()
    return [(fields[b"id"].decode(), json.loads(fields[b"event"])) for _, fields in entries]


def read_kafka(bootstrap: str, topic: str) -> Seen:
    """Every record of ``topic``, from the start of each partition to its end."""

    async def read() -> Seen:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if not partitions:
                return []
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            seen: Seen = []
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        event_id = dict(record.headers)["event-id"].decode()
                        seen.append((event_id, json.loads(record.value)))
            return seen
        finally:
            await consumer.stop()

    return asyncio.run(read())
