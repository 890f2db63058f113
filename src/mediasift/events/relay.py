"""The relay: hands the outbox's pending deliveries to their sinks. It runs on a thread in every
worker; relays share the work by claiming with ``FOR UPDATE SKIP LOCKED``.

A pass claims up to ``events_batch`` due deliveries in one transaction, hands each sink's share over
(the broker's topic, Kafka, or a webhook delivery job), deletes those handed over and postpones the
rest with backoff, and commits. A relay killed before the commit leaves every row it claimed
pending: the next pass hands them over again, with the same event ids (at-least-once). An event
whose transaction commits after later ones is still found: it is its pending rows that are looked
for, not a position in a sequence.

Sinks fail apart: Kafka being down postpones Kafka's rows only. Topic and Kafka deliveries are
retried until they succeed (the infrastructure is ours to fix; ``status`` counts what is pending);
webhook jobs carry their own retries and dead letters (:mod:`mediasift.events.delivery`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from mediasift.config import Settings
from mediasift.db import outbox
from mediasift.db.connection import Database
from mediasift.events import envelope
from mediasift.events.delivery import webhook_job
from mediasift.events.kafka import KafkaSink
from mediasift.jobs.broker import Broker
from mediasift.jobs.topic import EventTopic

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0


def backoff(attempts: int) -> float:
    """Seconds before a failed hand-over is tried again, after ``attempts`` failures before it."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempts)


class Relay:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        broker: Broker,
        *,
        topic: EventTopic | None = None,
        kafka: KafkaSink | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.broker = broker
        self.topic = topic
        self.kafka = kafka
        self.sinks = ["webhook"] + (["topic"] if topic else []) + (["kafka"] if kafka else [])
        self.handed_over = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass -------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim due deliveries, hand them over, record the outcome; how many were claimed."""
        with self.db.transaction() as conn:
            claimed = outbox.claim(conn, self.sinks, self.settings.events_batch)
            for sink in self.sinks:
                share = [p for p in claimed if p.sink == sink]
                if not share:
                    continue
                ids = [p.id for p in share]
                try:
                    with conn.transaction():  # a savepoint: a failed hand-over undoes only its own writes
                        self._hand_over(conn, sink, share)
                        outbox.delivered(conn, ids)
                except Exception as exc:  # any failure of a sink: tried again later, the others go on
                    log.warning("events: %d deliveries to %s failed: %s", len(share), sink, exc)
                    delay = backoff(min(p.attempts for p in share))
                    outbox.postpone(conn, ids, delay, f"{type(exc).__name__}: {exc}")
                else:
                    self.handed_over += len(share)
        return len(claimed)

    def _hand_over(self, conn: Any, sink: str, share: Sequence[outbox.Pending]) -> None:
        if sink == "webhook":
            jobs = [webhook_job(p.event.id, p.webhook_id, p.event.tenant, self.settings) for p in share if p.webhook_id]
            publish_within = getattr(self.broker, "publish_within", None)
            if publish_within is not None:
                publish_within(conn, jobs)  # queued in this very transaction (the PostgreSQL broker)
            else:
                self.broker.publish(jobs)  # a copy published twice is queued once (the job id)
            return
        target = self.topic if sink == "topic" else self.kafka
        assert target is not None
        target.publish([envelope.message(p.event) for p in share])

    # -- on a thread ----------------------------------------------------------------------------------

    def start(self) -> Relay:
        self._thread = threading.Thread(target=self._loop, name="events-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the pass in progress, then make one last pass (what the worker's last jobs wrote)."""
        self._stop.set()
        if self._thread is not None:
            try:
                with self.db.transaction() as conn:
                    outbox.wake(conn)
            except Exception:  # the database is away: the relay's wait ends on its own
                log.warning("events: could not wake the relay to stop it", exc_info=True)
            self._thread.join()
            self._thread = None
            try:
                self.run_once()
            except Exception:
                log.warning("events: the last relay pass failed", exc_info=True)
        for sink in (self.topic, self.kafka):
            if sink is not None:
                sink.close()

    def _loop(self) -> None:
        listener = outbox.Listener(self.db.url)
        try:
            while not self._stop.is_set():
                try:
                    full = self.run_once() >= self.settings.events_batch
                except Exception:  # the database is away, say: the next pass tries again
                    log.warning("events: a relay pass failed", exc_info=True)
                    full = False
                if not full:
                    listener.wait(self.settings.events_poll_s)
        finally:
            listener.close()
