"""An event as every sink carries it: one JSON document, the same bytes on the topic, on Kafka and in
a webhook's body (where they are what the signature covers)."""

from __future__ import annotations

import json

from mediasift.db.outbox import Event
from mediasift.jobs.topic import TopicMessage


def body(event: Event) -> bytes:
    """``{"id", "type", "timestamp", "tenant", "asset_id", "data"}``, keys sorted, no spaces.
    ``timestamp`` is when the change committed's transaction wrote the event (ISO 8601, UTC)."""
    document = {
        "id": str(event.id),
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "tenant": event.tenant,
        "asset_id": str(event.asset_id),
        "data": event.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def message(event: Event) -> TopicMessage:
    return TopicMessage(id=str(event.id), type=event.type, key=str(event.asset_id), body=body(event))
