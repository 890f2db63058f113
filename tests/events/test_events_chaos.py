"""Every event of a 50-asset ingest reaches each consumer while worker processes (and the relays in
them) are killed with SIGKILL: a core NATS subscriber (or a Redis stream reader, with the Redis
broker) and a Kafka consumer each see every event written, none missing, and what they see twice
carries the same event id (one id per asset and event type).

Some texts carry the poison marker, so their analysis fails for good: asset.failed events too."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mediasift.config import Settings
from mediasift.db import outbox
from mediasift.jobs.model import Lane
from mediasift.service import Mediasift

from support.chaos import PLUGINS, TESTS, WORDS, Workers
from support.chaos_plugins import POISON
from support.event_readers import NatsSubscriber, Seen, read_kafka, read_redis_stream

pytestmark = [pytest.mark.slow, pytest.mark.alone]

ASSETS = 50
POISONED_EVERY = 10  # one text in ten fails for good
WORKERS = 2
KILL_EVERY_S = (1.0, 2.0)  # a quick run takes 5-6 s with its kills: at least three fall inside it
TIMEOUT_S = 240.0


def _texts(folder: Path, seed: int) -> dict[str, bool]:
    """Short texts (fast to analyse): file name -> whether it is good."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    good = {}
    for i in range(ASSETS):
        poisoned = i % POISONED_EVERY == 3
        words = " ".join(rng.choice(WORDS) for _ in range(30))
        (folder / f"doc{i:03d}.txt").write_text(f"Document {i}. {words}." + (f" {POISON}" if poisoned else ""))
        good[f"doc{i:03d}.txt"] = not poisoned
    return good


@pytest.mark.parametrize("broker", ["nats", "redis"])
def test_every_event_reaches_every_consumer_through_sigkills(
    broker: str, request: pytest.FixtureRequest, settings: Settings, kafka_server: str, tmp_path: Path
) -> None:
    broker_url = str(request.getfixturevalue(f"{broker}_server"))
    namespace = "chaos" + uuid.uuid4().hex[:8]
    knobs = {
        "broker_url": broker_url, "queue_namespace": namespace, "kafka_bootstrap": kafka_server,
        "kafka_topic": f"{namespace}.events", "lease_s": 3, "max_attempts": 12, "retry_base_s": 0.5,
        "retry_cap_s": 5, "events_poll_s": 0.25, "operator_plugins": PLUGINS,
    }  # fmt: skip
    system = Mediasift(settings.model_copy(update=knobs))
    env = {
        **os.environ,
        **{f"MEDIASIFT_{name.upper()}": str(value) for name, value in knobs.items()},
        "MEDIASIFT_HOME": str(settings.home),
        "MEDIASIFT_DATABASE_URL": settings.database_url,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
    }
    good = _texts(tmp_path / "media", seed=7)
    subscriber = NatsSubscriber(broker_url, f"{namespace}.events.>") if broker == "nats" else None
    rng = random.Random(7)
    kills = 0
    start = time.monotonic()
    system.ingest([tmp_path / "media"], lane=Lane.BATCH)
    pool = Workers(env, WORKERS)
    try:
        next_kill = time.monotonic() + rng.uniform(0.5, 1.5)
        while time.monotonic() - start < TIMEOUT_S:
            if _settled(system):
                break
            if time.monotonic() >= next_kill:
                pool.kill_one(rng)
                kills += 1
                next_kill = time.monotonic() + rng.uniform(*KILL_EVERY_S)
            time.sleep(0.25)
    finally:
        pool.stop()
    seconds = time.monotonic() - start
    with system.db.connect() as conn:
        written = outbox.events_of(conn)
        pending = outbox.pending_counts(conn)
    system.close()
    if subscriber is not None:
        subscriber.stop()
    topic: Seen = subscriber.seen if subscriber is not None else read_redis_stream(broker_url, f"{namespace}:events")
    kafka = read_kafka(kafka_server, f"{namespace}.events")
    print(f"{broker}: {len(written)} events, {kills} SIGKILLs, {seconds:.0f} s; topic saw {len(topic)}, "
          f"Kafka {len(kafka)}")  # fmt: skip

    assert kills >= 3 and pending == {}
    types = Counter(e.type for e in written)
    assert types == {"asset.analysed": sum(good.values()), "asset.failed": ASSETS - sum(good.values())}
    assert len({e.asset_id for e in written}) == ASSETS  # one final event per asset
    expected = {str(e.id): e for e in written}
    for name, seen in (("topic", topic), ("kafka", kafka)):
        assert {event_id for event_id, _ in seen} == set(expected), f"{name}: events missing or unknown"
        for event_id, document in seen:  # a copy seen twice is the same event, under the same id
            assert document["id"] == event_id and document["asset_id"] == str(expected[event_id].asset_id)
            assert document["type"] == expected[event_id].type
        ids_per_asset = {(d["asset_id"], d["type"]) for _, d in seen}
        assert len(ids_per_asset) == len(expected)


def _settled(system: Any) -> bool:
    """Every asset analysed or failed, and every event handed to every sink."""
    status = system.status()
    if status.assets.pending:
        return False
    with system.db.connect() as conn:
        return not outbox.pending_counts(conn)
