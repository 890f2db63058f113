"""Webhook delivery as jobs of their own kind beside the pipeline's, so the worker runtime retries
them with backoff, buries them in the dead letters after ``webhook_max_attempts`` and ``jobs
redrive`` sends them again.

One job per (event, webhook), its id ``webhook:<webhook id>:<event id>`` (a relay that publishes it
twice queues it once). Each try POSTs the event's JSON signed afresh (a new timestamp: receivers
refuse old ones) through the URL-fetch rules of :func:`mediasift.net.fetch.send`: public addresses
only (unless ``url_fetch_private`` or a trusted host), resolved once and connected to as checked,
no redirect followed, the whole try within ``webhook_timeout_s``.

What an answer means: any 2xx is delivered. 410 Gone is permanent (the receiver says the endpoint is
gone for good: straight to the dead letters, where a redrive can still send it). Every other status
(a redirect, 4xx such as 401 or 404 from a receiver being redeployed, 408, 429, 5xx) and every
failure to connect or to answer in time is retried with backoff: a receiver's mistake is usually
fixed within the retry span, and the dead letters keep what outlasts it.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from mediasift.config import Settings
from mediasift.db import outbox
from mediasift.db import webhooks as webhook_repo
from mediasift.db.connection import Database
from mediasift.errors import PermanentError, TransientError
from mediasift.events import envelope, signing
from mediasift.jobs.model import Job, Lane, Limits
from mediasift.jobs.runtime import JobContext
from mediasift.net.errors import Unacceptable
from mediasift.net.fetch import send

WEBHOOK_KIND = "webhook"
WEBHOOK_GROUP = "webhook"
GONE = 410


WEBHOOK_TIMEOUT_MARGIN_S = 5.0  # a delivery job's limit over its POST's own timeout


def webhook_limits(settings: Settings) -> Limits:
    """A delivery job's attempts and time limit under ``settings``."""
    return settings.webhook_max_attempts, settings.webhook_timeout_s + WEBHOOK_TIMEOUT_MARGIN_S


def webhook_job(event_id: UUID, webhook_id: UUID, tenant: str, settings: Settings) -> Job:
    """The job that delivers one event to one webhook. Interactive: a notification is waited for,
    and a try is cheap beside an analysis (a thread waiting on the network)."""
    attempts, timeout_s = webhook_limits(settings)
    return Job(
        id=f"webhook:{webhook_id}:{event_id}",
        kind=WEBHOOK_KIND,
        lane=Lane.INTERACTIVE,
        group=WEBHOOK_GROUP,
        payload={"event_id": str(event_id), "webhook_id": str(webhook_id), "tenant": tenant},
        max_attempts=attempts,
        timeout_s=timeout_s,
    )


class WebhookDelivery:
    """The handler of webhook jobs."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def handle(self, job: Job, ctx: JobContext) -> None:
        with self.db.transaction() as conn:
            event = outbox.get_event(conn, UUID(job.payload["event_id"]))
            hook = webhook_repo.target(conn, UUID(job.payload["webhook_id"]))
        if event is None or hook is None:
            return  # the webhook was removed since: nothing to send
        body = envelope.body(event)
        headers = signing.headers(hook["secret"], str(event.id), int(time.time()), body)
        try:
            reply = send("POST", hook["url"], body, headers, self.settings, timeout_s=self.settings.webhook_timeout_s)
        except Unacceptable as exc:
            self._record(hook, str(exc))
            raise TransientError(str(exc)) from None
        self._record(hook, f"HTTP {reply.status}")
        if 200 <= reply.status < 300:
            return
        answer = f"{hook['url']} answered HTTP {reply.status}: {reply.body[:200].decode('utf-8', 'replace')}"
        if reply.status == GONE:
            raise PermanentError(answer)
        raise TransientError(answer)

    def _record(self, hook: dict[str, Any], outcome: str) -> None:
        with self.db.transaction() as conn:
            webhook_repo.record_attempt(conn, hook["id"], outcome)
