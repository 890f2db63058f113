"""Webhooks end to end, through a worker (and its relay) of the test's system and a real receiver on
127.0.0.1: signed deliveries a receiver verifies on its own, retries while it is down, dead letters
and redrive, 410 as permanent, tenants kept apart, removed webhooks sent nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from mediasift.config import Settings
from mediasift.db import outbox
from mediasift.service import Mediasift

from support import mediagen
from support.receiver import Receiver

QUICK = {
    "url_fetch_private": True,  # the receiver is on 127.0.0.1
    "retry_base_s": 0.2,
    "retry_cap_s": 0.5,
    "events_poll_s": 0.2,
    "webhook_timeout_s": 2.0,
    "webhook_max_attempts": 3,
}


@pytest.fixture
def system(settings: Settings) -> Iterator[Mediasift]:
    system = Mediasift(settings.model_copy(update=QUICK))
    yield system
    system.close()


@contextmanager
def working(system: Mediasift) -> Iterator[None]:
    """A worker of ``system`` on a thread, with the relay it runs."""
    worker = system.worker(concurrency=2)
    thread = threading.Thread(target=system.run_worker, args=(worker,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        worker.stop()
        thread.join(timeout=60)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def hook(system: Mediasift, receiver: Receiver, tenant: str = "default", events: str = "asset.analysed") -> UUID:
    created = system.add_webhook(receiver.url, events.split(","), tenant=tenant)
    receiver.secret = created.secret
    return created.id


def write_event(system: Mediasift, tenant: str = "default", kind: str = outbox.ANALYSED) -> UUID:
    """An event as the pipeline writes it, in a transaction of its own."""
    with system.db.transaction() as conn:
        return outbox.add_event(conn, kind, tenant, uuid4(), {"status": "done"}, sinks=system.settings.event_sinks)


def wait(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.slow
def test_an_analysed_asset_is_posted_signed_with_its_summary(
    system: Mediasift, receiver: Receiver, media_dir: Path
) -> None:
    hook(system, receiver, events="asset.analysed,asset.failed")
    path = mediagen.make_text_file(media_dir / "note.txt", "The harbour lights came on at dusk. " * 20)
    with working(system):
        report = system.ingest([path])
        (got,) = receiver.wait_for(1, timeout_s=120)
    asset_id = report.accepted[0].asset_id
    assert got.verified
    event = got.event
    assert event["type"] == "asset.analysed" and event["asset_id"] == str(asset_id)
    assert event["tenant"] == "default" and got.msg_id == event["id"]
    assert event["data"]["status"] == "done" and event["data"]["failed"] == {}
    assert "embed_text" in event["data"]["operators"] and event["data"]["segments"]["text_chunk"] >= 1
    with system.db.connect() as conn:
        (stored,) = outbox.events_of(conn, asset_id=asset_id)
        assert str(stored.id) == got.msg_id and outbox.pending_counts(conn) == {}


def test_a_deleted_asset_is_posted_as_asset_deleted(system: Mediasift, receiver: Receiver, media_dir: Path) -> None:
    hook(system, receiver, events="asset.deleted")
    path = mediagen.make_text_file(media_dir / "note.txt", "The ferry timetable changes in winter.")
    report = system.ingest([path], wait=True)
    asset_id = report.accepted[0].asset_id
    system.delete_asset(asset_id, tenant=None, actor="tester")
    with working(system):
        (got,) = receiver.wait_for(1, timeout_s=60)
    assert got.verified and got.event["type"] == "asset.deleted" and got.event["asset_id"] == str(asset_id)
    assert got.event["data"]["status"] == "deleted" and "embed_text" in got.event["data"]["operators"]


def test_a_receiver_that_is_down_gets_the_event_when_it_is_back(system: Mediasift) -> None:
    receiver = Receiver()  # not started: its port refuses connections
    hook(system, receiver)
    event_id = write_event(system)
    with working(system):
        assert wait(lambda: _last_status(system).startswith("cannot fetch"), 10)
        receiver.start()
        try:
            (got,) = receiver.wait_for(1, timeout_s=20)
        finally:
            receiver.stop()
    assert got.verified and got.msg_id == str(event_id)
    assert _last_status(system) == "HTTP 200"


def test_a_failing_receiver_leaves_a_dead_letter_and_redrive_delivers_it(system: Mediasift, receiver: Receiver) -> None:
    receiver.status = 503
    webhook_id = hook(system, receiver, tenant="alpha")
    event_id = write_event(system, tenant="alpha")
    job_id = f"webhook:{webhook_id}:{event_id}"
    with working(system):
        assert wait(lambda: [d.job.id for d in system.dead_letters(tenant="alpha")] == [job_id], 20)
        assert len(receiver.received) == QUICK["webhook_max_attempts"]
        assert all(r.msg_id == str(event_id) and r.verified for r in receiver.received)
        assert system.dead_letters(tenant="beta") == []
        receiver.status = 200
        assert system.redrive([job_id], tenant="alpha") == 1
        (got,) = receiver.wait_for(1, timeout_s=20)
    assert got.msg_id == str(event_id) and got.verified
    assert system.dead_letters() == []


def test_410_gone_is_not_retried(system: Mediasift, receiver: Receiver) -> None:
    receiver.status = 410
    webhook_id = hook(system, receiver)
    event_id = write_event(system)
    with working(system):
        assert wait(lambda: len(system.dead_letters()) == 1, 20)
        time.sleep(1.0)  # three retry delays' worth: nothing more comes
    (letter,) = system.dead_letters()
    assert letter.job.id == f"webhook:{webhook_id}:{event_id}" and letter.error_class == "permanent"
    assert len(receiver.received) == 1


def test_a_tenants_webhook_sees_only_its_own_events(system: Mediasift) -> None:
    alpha, beta = Receiver().start(), Receiver().start()
    try:
        hook(system, alpha, tenant="alpha", events="asset.analysed,asset.deleted")
        hook(system, beta, tenant="beta", events="asset.analysed,asset.failed,asset.deleted")
        sent = [write_event(system, "alpha"), write_event(system, "alpha", outbox.DELETED)]
        write_event(system, "alpha", outbox.FAILED)  # alpha did not ask for failures
        with working(system):
            got = alpha.wait_for(2, timeout_s=20)
            time.sleep(0.5)
        assert sorted(r.msg_id for r in got) == sorted(map(str, sent))
        assert all(r.event["tenant"] == "alpha" and r.verified for r in got)
        assert beta.received == []
    finally:
        alpha.stop()
        beta.stop()
    assert [w.tenant for w in system.webhooks(tenant="beta").webhooks] == ["beta"]
    assert len(system.webhooks().webhooks) == 2


def test_a_removed_webhook_is_sent_nothing_even_what_was_queued(system: Mediasift, receiver: Receiver) -> None:
    webhook_id = hook(system, receiver)
    write_event(system)  # its delivery is queued with the event
    system.remove_webhook(webhook_id)
    write_event(system)  # no delivery is queued for this one
    with working(system):
        assert wait(lambda: _pending(system) == {}, 10)
        time.sleep(0.5)
    assert receiver.received == []
    assert system.webhooks().webhooks == []


def test_webhook_urls_and_event_types_are_checked(settings: Settings) -> None:
    strict = Mediasift(settings)  # url_fetch_private off
    try:
        for url, events, why in [
            ("ftp://example.com/x", ["asset.analysed"], "not an http or https URL"),
            ("http://127.0.0.1:9/hook", ["asset.analysed"], "not a public address"),
            ("http://10.1.2.3/hook", ["asset.analysed"], "not a public address"),
            ("https://example.com/hook", ["asset.exploded"], "not asset.exploded"),
            ("https://example.com/hook", [], "name event types"),
        ]:
            with pytest.raises(ValueError, match=why):
                strict.add_webhook(url, events)
        with pytest.raises(ValueError, match="not a tenant name"):
            strict.add_webhook("https://example.com/hook", ["asset.analysed"], tenant="Not A Tenant")
    finally:
        strict.close()


def _last_status(system: Mediasift) -> str:
    (only,) = system.webhooks().webhooks
    return only.last_status or ""


def _pending(system: Mediasift) -> dict[str, int]:
    with system.db.connect() as conn:
        return outbox.pending_counts(conn)
