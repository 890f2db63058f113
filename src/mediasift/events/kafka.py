"""Events out to Kafka (``MEDIASIFT_KAFKA_BOOTSTRAP``): one record per event on ``kafka_topic``, keyed
by its asset id (an asset's events share a partition), the event as JSON in the value and its id and
type in the headers ``event-id`` and ``event-type``.

aiokafka (pure Python over asyncio, no librdkafka to ship) runs on a private loop thread, as nats-py
does in the broker. Delivery is at-least-once: a relay killed after a send and before recording it
sends again, and the idempotent producer would not help (its dedupe lasts one producer session,
and Kafka-compatible brokers such as Tansu refuse it), so consumers deduplicate on ``event-id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mediasift.jobs.aio_thread import LoopThread
from mediasift.jobs.topic import TopicMessage

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

_CALL_TIMEOUT_S = 30.0
_REQUEST_TIMEOUT_MS = 10_000


class KafkaSink:
    name = "kafka"

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._thread = LoopThread("kafka-events")
        self._producer: AIOKafkaProducer | None = None

    def publish(self, messages: Sequence[TopicMessage]) -> None:
        """Return once the brokers acknowledged every record (``acks=all``); raise otherwise."""
        if messages:
            self._thread.run(self._publish(messages), _CALL_TIMEOUT_S + len(messages) / 100)

    def close(self) -> None:
        try:
            if self._producer is not None:
                self._thread.run(self._producer.stop(), _CALL_TIMEOUT_S)
        finally:
            self._thread.stop()

    async def _started(self) -> AIOKafkaProducer:
        """The producer, started on first use and again after a failed start (Kafka was down)."""
        if self._producer is None:
            from aiokafka import AIOKafkaProducer  # here, not at import: every CLI command imports this module

            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id="mediasift-events",
                acks="all",
                enable_idempotence=False,
                linger_ms=5,
                request_timeout_ms=_REQUEST_TIMEOUT_MS,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _publish(self, messages: Sequence[TopicMessage]) -> None:
        producer = await self._started()
        sent = [
            await producer.send(
                self.topic,
                m.body,
                key=m.key.encode(),
                headers=[("event-id", m.id.encode()), ("event-type", m.type.encode())],
            )
            for m in messages
        ]
        await asyncio.gather(*sent)
