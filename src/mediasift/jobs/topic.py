"""Events out on the broker's own server: a topic that every event is published to, for consumers to
read (``NATS``: JetStream subjects ``<namespace>.events.<type>``; Redis: the stream
``<namespace>:events``). The PostgreSQL broker has no topic: its events go to webhooks and Kafka.

Publishing is at-least-once (a relay that dies after publishing and before recording it publishes
again); each message carries its event's id, and both servers drop a second copy of an id seen
within ``DEDUPE_WINDOW_S``, so consumers see a duplicate only past that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

DEDUPE_WINDOW_S = 3600


class TopicMessage(NamedTuple):
    id: str  # the event's id: what consumers deduplicate on
    type: str  # asset.analysed, asset.failed, asset.deleted
    key: str  # the asset's id
    body: bytes  # the event as JSON


class EventTopic(Protocol):
    name: str

    def publish(self, messages: Sequence[TopicMessage]) -> None:
        """Return once the server has stored every message; raise otherwise (then publish them all again)."""
        ...

    def close(self) -> None: ...


def open_topic(url: str, *, namespace: str = "mediasift", max_events: int = 1_000_000) -> EventTopic | None:
    """The topic on the broker server ``url`` names (as :func:`mediasift.jobs.broker.open_broker`
    reads it), keeping at most about ``max_events``; None for the PostgreSQL broker."""
    scheme = url.split("://", 1)[0] if url else "postgresql"
    if scheme in ("redis", "rediss", "unix"):
        from mediasift.jobs.redis_topic import RedisTopic

        return RedisTopic(url, namespace=namespace, max_events=max_events)
    if scheme in ("nats", "tls"):
        from mediasift.jobs.nats_topic import NatsTopic

        return NatsTopic(url, namespace=namespace, max_events=max_events)
    if scheme in ("postgresql", "postgres"):
        return None
    raise ValueError(f"unsupported broker URL {url!r}: use postgresql://, redis:// or nats://")
