"""The NATS JetStream broker: one subject per queued job in a work-queue stream, delays as schedules.

Layout, for namespace ``ns`` and a job id written as one subject token ``key`` (base64url):

- stream ``ns_jobs``, work-queue retention (an acked message is deleted), holds
  ``ns.ready.<lane>.<key>`` (jobs to run) and ``ns.delayed.<lane>.<key>`` (message schedules: at the
  due time the server itself publishes the job to its ready subject and drops the schedule, so a
  delayed job is never delivered early and its delivery count stays exact);
- durable pull consumers ``ns_interactive`` and ``ns_batch`` read the ready subjects, with
  ``ack_wait`` as the lease; ``ns_delayed`` covers the delayed subjects and is never read: its
  pending count is the number of delayed jobs;
- stream ``ns_dead`` keeps one dead letter per ``ns.dead.<key>``.

Because every message of a job sits on a subject ending in its key, "is this job queued?" is asked of
the server as it stores: a publish expects the last sequence on ``ns.*.*.<key>`` to be 0 and is
refused (error 10071) while a ready, delayed or in-flight message of the job exists; once acked the
message is gone and the job may be published again. A release publishes the job's next message
expecting exactly the sequence of the message it replaces, then acks that one. Either way a publish
whose acknowledgement was lost (a reconnect) can simply be sent again.

The attempt number is ``attempts_before`` (in the body, rewritten by a release) plus the consumer's
delivery count. A publish also rings ``ns.bell`` (core NATS) to wake idle fetches at once; lease
expiries and due schedules ring nothing, so a waiting fetch polls every ``_IDLE_POLL_S`` too.

nats-py is asyncio-only: the broker runs it on a private loop thread (``LoopThread``), and its
synchronous methods, safe to call from many threads, submit coroutines there. Needs nats-server 2.12+.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import re
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

from mediasift.jobs.aio_thread import LoopThread
from mediasift.jobs.model import DeadLetter, Delivery, Failure, Job, Lane, Limits, QueueStats

T = TypeVar("T")
_log = logging.getLogger(__name__)

_API_TIMEOUT_S = 5.0  # one JetStream exchange: a pull, an ack, a publish acknowledgement
_CALL_TIMEOUT_S = 20.0  # a whole synchronous call, retries included (publish adds per job)
_TRIES = 3  # sends of a request left unanswered
_WINDOW = 1000  # requests awaiting their replies at once
_IDLE_POLL_S = 0.5
_WRONG_LAST_SEQUENCE = 10071  # JetStream's error code when an expected last sequence does not hold
_EXPECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
_EXPECT_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"
_SCHEDULE = "Nats-Schedule"
_SCHEDULE_TARGET = "Nats-Schedule-Target"
_NAMESPACE = re.compile(r"[A-Za-z0-9_-]+")

Message = tuple[str, bytes, dict[str, str] | None]  # subject, body, headers


def _key(job_id: str) -> str:
    """A job id as one subject token, whatever characters (dots, spaces, wildcards) it holds."""
    return base64.urlsafe_b64encode(job_id.encode()).rstrip(b"=").decode()


def _status(msg: Msg) -> str | None:
    """A status message's code (JetStream's answers about a request, not a message of its own)."""
    return msg.headers.get("Status") if msg.headers else None


class _Replies:
    """What one request collects: a single reply for a publish or an ack; up to ``expected``
    messages for a pull, which the server ends early with a status (404/408: no more for now)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.msgs: list[Msg] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def add(self, msg: Msg) -> None:
        if self.done.done():
            return
        self.msgs.append(msg)
        if len(self.msgs) >= self.expected or _status(msg) is not None:
            self.done.set_result(None)


class NatsBroker:
    name = "nats"

    def __init__(self, url: str, *, lease_s: float = 30.0, namespace: str = "mediasift") -> None:
        if not _NAMESPACE.fullmatch(namespace):
            raise ValueError(f"namespace {namespace!r} must be letters, digits, '_' or '-'")
        self.url = url
        self.lease_s = lease_s
        self.namespace = namespace
        self._jobs = f"{namespace}_jobs"
        self._dead = f"{namespace}_dead"
        self._set_up = False
        self._closing = False
        self._setup_lock = asyncio.Lock()
        self._bell = asyncio.Event()
        self._waiting: dict[str, _Replies] = {}
        self._tokens = itertools.count()
        self._thread = LoopThread(f"nats-broker-{namespace}")
        try:
            self._call(self._connect())
        except TimeoutError:
            self._thread.stop()
            raise ConnectionError(f"no NATS server with JetStream answered within {_CALL_TIMEOUT_S:.0f}s") from None
        except BaseException:
            self._thread.stop()
            raise

    # The synchronous face: each method runs its coroutine on the loop thread.

    def publish(self, jobs: Sequence[Job], *, delay_s: float = 0.0) -> None:
        if jobs:
            self._call(self._publish(jobs, delay_s), _CALL_TIMEOUT_S + len(jobs) / 1000)

    def fetch(
        self, consumer: str, quotas: Mapping[Lane, int], wait_s: float, groups: frozenset[str] | None = None
    ) -> list[Delivery]:
        """``consumer`` only names the caller: every worker shares each lane's durable consumer, and
        takes jobs of every group from it (``groups`` is not asked of the server)."""
        return self._call(self._fetch(quotas, wait_s), _CALL_TIMEOUT_S + wait_s)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self._call(self._ack([d.handle for d in deliveries]))

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self._call(self._extend(deliveries))

    def release(self, delivery: Delivery, *, delay_s: float, count_attempt: bool = True) -> None:
        self._call(self._release(delivery, delay_s, count_attempt))

    def bury(self, delivery: Delivery, failure: Failure) -> None:
        self._call(self._bury(delivery, failure))

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        return self._call(self._dead_letters(limit)) if limit > 0 else []

    def redrive(self, job_ids: Sequence[str], limits: Mapping[str, Limits] | None = None) -> int:
        return self._call(self._redrive(job_ids, limits or {}))

    def drop_dead(self, job_ids: Sequence[str]) -> int:
        return self._call(self._drop_dead(job_ids)) if job_ids else 0

    def stats(self) -> QueueStats:
        return self._call(self._stats())

    def purge(self) -> None:
        """Delete both streams (their consumers with them); the next call sets them up again."""
        self._call(self._purge())

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        try:
            self._call(self._close())
        finally:
            self._thread.stop()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = _CALL_TIMEOUT_S) -> T:
        return self._thread.run(coro, timeout)

    # Connection and layout.

    async def _connect(self) -> None:
        self._nc = await nats.connect(
            self.url,
            name=f"mediasift-{self.namespace}",
            max_reconnect_attempts=-1,  # survive a server restart; calls time out meanwhile
            reconnect_time_wait=0.5,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        self._js = self._nc.jetstream(timeout=_API_TIMEOUT_S)
        self._inbox = self._nc.new_inbox()
        await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)
        await self._nc.subscribe(f"{self.namespace}.bell", cb=self._on_bell)
        await self._ensure_set_up()

    async def _close(self) -> None:
        try:
            await asyncio.wait_for(self._nc.drain(), _API_TIMEOUT_S)
        except Exception as error:  # unreachable server, say: nothing left to flush anyway
            _log.warning("NATS: draining the connection: %s", error)
            await self._nc.close()

    async def _ensure_set_up(self) -> None:
        if self._set_up:
            return
        async with self._setup_lock:
            if self._set_up:
                return
            ns = self.namespace
            info = await self._js.add_stream(
                StreamConfig(
                    name=self._jobs,
                    subjects=[f"{ns}.ready.*.*", f"{ns}.delayed.*.*"],
                    retention=RetentionPolicy.WORK_QUEUE,
                    storage=StorageType.FILE,
                    allow_msg_schedules=True,
                )
            )
            if not info.config.allow_msg_schedules:  # an older server ignores the option
                raise RuntimeError("the NATS broker needs nats-server 2.12 or newer (message schedules)")
            for lane in Lane:
                await self._js.add_consumer(
                    self._jobs,
                    ConsumerConfig(
                        durable_name=f"{ns}_{lane}",
                        filter_subject=f"{ns}.ready.{lane}.*",
                        ack_policy=AckPolicy.EXPLICIT,
                        ack_wait=self.lease_s,
                        max_deliver=-1,  # the worker runtime counts attempts and buries
                        max_ack_pending=-1,
                    ),
                )
            await self._js.add_consumer(
                self._jobs,
                ConsumerConfig(
                    durable_name=f"{ns}_delayed", filter_subject=f"{ns}.delayed.>", ack_policy=AckPolicy.EXPLICIT
                ),
            )
            await self._js.add_stream(
                StreamConfig(
                    name=self._dead, subjects=[f"{ns}.dead.*"], storage=StorageType.FILE, max_msgs_per_subject=1
                )
            )
            self._set_up = True

    async def _on_bell(self, msg: Msg) -> None:
        self._bell.set()
        self._bell = asyncio.Event()

    async def _ring(self) -> None:
        await self._nc.publish(f"{self.namespace}.bell")

    async def _on_error(self, error: Exception) -> None:
        # Every failed reconnect attempt lands here; the disconnect itself was worth the warning.
        _log.log(logging.DEBUG if isinstance(error, OSError) else logging.WARNING, "NATS: %r", error)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            _log.warning("NATS: disconnected, reconnecting")

    async def _on_reconnected(self) -> None:
        _log.warning("NATS: reconnected")

    # Publishing.

    def _job_message(self, job: Job, delay_s: float, *, replaces: int) -> Message:
        """``replaces`` is the stream sequence of the job's current message, 0 when it has none."""
        key = _key(job.id)
        ready = f"{self.namespace}.ready.{job.lane}.{key}"
        headers = {_EXPECT_SEQ: str(replaces), _EXPECT_SUBJECT: f"{self.namespace}.*.*.{key}"}
        if delay_s <= 0:
            return ready, job.to_json().encode(), headers
        due = datetime.now(UTC) + timedelta(seconds=delay_s)
        headers[_SCHEDULE] = f"@at {due:%Y-%m-%dT%H:%M:%S.%fZ}"
        headers[_SCHEDULE_TARGET] = ready
        return f"{self.namespace}.delayed.{job.lane}.{key}", job.to_json().encode(), headers

    async def _request(self, subject: str, body: bytes, headers: dict[str, str] | None) -> str:
        """Send a request whose reply comes to the broker's one inbox subscription; the token names
        its collector in ``self._waiting``, which the caller removes when done."""
        token = str(next(self._tokens))
        self._waiting[token] = _Replies(1)
        await self._nc.publish(subject, body, reply=f"{self._inbox}.{token}", headers=headers)
        return token

    async def _on_reply(self, msg: Msg) -> None:
        replies = self._waiting.get(msg.subject.rpartition(".")[2])
        if replies is not None:
            replies.add(msg)

    async def _exchange(self, messages: Sequence[Message]) -> list[Msg]:
        """Send each message as a request and return the replies in order, at most ``_WINDOW``
        awaiting theirs at once. Those left unanswered (a reconnect) are sent again: everything the
        broker sends this way (a publish with an expected sequence, a dead letter that replaces
        itself, an ack) is safe to repeat.

        Rather than nats-py's ``publish_async`` (in 2.16 a refused publish never settles its
        future) or a task per ``request`` (much slower)."""
        replies: dict[int, Msg] = {}
        todo = list(range(len(messages)))
        for _ in range(_TRIES):
            for start in range(0, len(todo), _WINDOW):
                tokens: dict[str, int] = {}
                try:
                    for index in todo[start : start + _WINDOW]:
                        tokens[await self._request(*messages[index])] = index
                    await asyncio.wait([self._waiting[token].done for token in tokens], timeout=_API_TIMEOUT_S)
                finally:
                    answered = {tokens[token]: self._waiting.pop(token).msgs for token in tokens}
                replies.update((index, msgs[0]) for index, msgs in answered.items() if msgs)
            todo = [index for index in todo if index not in replies]
            if not todo:
                return [replies[index] for index in range(len(messages))]
            _log.warning("NATS: %d requests unanswered, sending them again", len(todo))
        raise TimeoutError(f"NATS left {len(todo)} requests unanswered")

    async def _store(self, messages: Sequence[Message]) -> None:
        """Publish and wait until JetStream has stored every message. A failed expected-sequence
        check counts as stored: the job is already queued, or an earlier send of this very message
        was stored (or, for a release, the job was settled by another holder)."""
        for (subject, _, _), reply in zip(messages, await self._exchange(messages), strict=True):
            if _status(reply) == "503":
                raise NoStreamResponseError(f"no stream stores {subject}")
            error = json.loads(reply.data).get("error")
            if error is not None and error.get("err_code") != _WRONG_LAST_SEQUENCE:
                raise APIError(**error)

    async def _ack(self, msgs: Sequence[Msg]) -> None:
        """Ack and wait for the server to confirm, so the jobs are gone (and may be queued again)
        when ``ack`` returns."""
        await self._exchange([(msg.reply, b"", None) for msg in msgs])

    async def _publish(self, jobs: Sequence[Job], delay_s: float) -> None:
        await self._ensure_set_up()
        await self._store([self._job_message(job, delay_s, replaces=0) for job in jobs])
        await self._ring()

    # Fetching and settling.

    async def _fetch(self, quotas: Mapping[Lane, int], wait_s: float) -> list[Delivery]:
        await self._ensure_set_up()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            bell = self._bell  # taken before polling, so a publish during the poll still wakes us
            deliveries = await self._poll(quotas)
            remaining = deadline - loop.time()
            if deliveries or remaining <= 0:
                return deliveries
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bell.wait(), min(remaining, _IDLE_POLL_S))

    async def _poll(self, quotas: Mapping[Lane, int]) -> list[Delivery]:
        if not self._nc.is_connected:  # a pull queued now would be answered to nobody, later
            return []
        lanes = [lane for lane in Lane if quotas.get(lane, 0) > 0]
        batches = await asyncio.gather(
            *(self._pull(self._jobs, f"{self.namespace}_{lane}", quotas[lane]) for lane in lanes)
        )
        deliveries = []
        for msg in (msg for batch in batches for msg in batch):
            try:
                job = Job.from_json(msg.data)
            except (ValueError, TypeError, KeyError) as error:
                _log.error("NATS: dropping unreadable message on %s: %s", msg.subject, error)
                await msg.term()
                continue
            deliveries.append(Delivery(job=job, attempt=job.attempts_before + msg.metadata.num_delivered, handle=msg))
        return deliveries

    async def _pull(self, stream: str, consumer: str, batch: int) -> list[Msg]:
        """Take up to ``batch`` messages that are ready now, without waiting for more. Messages come
        on their own subjects, so unlike other replies they need an inbox subscription of their own."""
        replies = _Replies(batch)
        inbox = self._nc.new_inbox()

        async def collect(msg: Msg) -> None:
            replies.add(msg)

        sub = await self._nc.subscribe(inbox, cb=collect)
        try:
            request = json.dumps({"batch": batch, "no_wait": True}).encode()
            await self._nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", request, reply=inbox)
            await asyncio.wait([replies.done], timeout=_API_TIMEOUT_S)
        finally:
            await sub.unsubscribe()
        if not replies.done.done():
            _log.warning("NATS: no answer to a pull from %s", consumer)
        elif (status := _status(last := replies.msgs[-1])) not in (None, "404", "408", "503"):
            # 404/408: no more for now; 503: JetStream is not there (restarting), worth no more
            _log.warning("NATS: pull from %s: %s %s", consumer, status, (last.headers or {}).get("Description"))
        return [msg for msg in replies.msgs if _status(msg) is None]

    async def _extend(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await delivery.handle.in_progress()  # resets the ack timer; no reply, only buffered

    async def _release(self, delivery: Delivery, delay_s: float, count_attempt: bool) -> None:
        msg: Msg = delivery.handle
        job = replace(delivery.job, attempts_before=delivery.attempt - (0 if count_attempt else 1))
        await self._store([self._job_message(job, delay_s, replaces=msg.metadata.sequence.stream)])
        await self._ack([msg])
        if delay_s <= 0:
            await self._ring()

    # Dead letters.

    async def _bury(self, delivery: Delivery, failure: Failure) -> None:
        record = {
            "job": delivery.job.to_json(),
            "attempts": delivery.attempt,
            "error_class": str(failure.error_class),
            "message": failure.message,
            "traceback": failure.traceback,
            "failed_at": datetime.now(UTC).isoformat(),
        }
        subject = f"{self.namespace}.dead.{_key(delivery.job.id)}"
        await self._store([(subject, json.dumps(record).encode(), None)])
        await self._ack([delivery.handle])

    async def _dead_letters(self, limit: int) -> list[DeadLetter]:
        await self._ensure_set_up()
        reader = await self._js.add_consumer(
            self._dead, ConsumerConfig(ack_policy=AckPolicy.NONE, mem_storage=True, inactive_threshold=60.0)
        )
        try:
            msgs = await self._pull(self._dead, reader.name, limit)
        finally:
            await self._js.delete_consumer(self._dead, reader.name)
        letters = []
        for msg in msgs:
            record = json.loads(msg.data)
            letters.append(
                DeadLetter(
                    job=Job.from_json(record["job"]),
                    attempts=record["attempts"],
                    error_class=record["error_class"],
                    message=record["message"],
                    traceback=record["traceback"],
                    failed_at=datetime.fromisoformat(record["failed_at"]),
                )
            )
        return sorted(letters, key=lambda letter: letter.failed_at)

    async def _redrive(self, job_ids: Sequence[str], limits: Mapping[str, Limits]) -> int:
        await self._ensure_set_up()
        redriven = sum(
            await asyncio.gather(*(self._redrive_one(job_id, limits.get(job_id)) for job_id in dict.fromkeys(job_ids)))
        )
        if redriven:
            await self._ring()
        return redriven

    async def _redrive_one(self, job_id: str, limits: Limits | None) -> bool:
        try:
            dead = await self._js.get_last_msg(self._dead, f"{self.namespace}.dead.{_key(job_id)}")
        except NotFoundError:
            return False
        assert dead.data is not None and dead.seq is not None
        job = Job.from_json(json.loads(dead.data)["job"]).limited(limits)
        await self._store([self._job_message(job, 0.0, replaces=0)])
        try:
            await self._js.delete_msg(self._dead, dead.seq)
        except NotFoundError:
            return False  # another redrive of the same job got there first
        return True

    async def _drop_dead(self, job_ids: Sequence[str]) -> int:
        await self._ensure_set_up()
        return sum(await asyncio.gather(*(self._drop_one(job_id) for job_id in dict.fromkeys(job_ids))))

    async def _drop_one(self, job_id: str) -> bool:
        try:
            dead = await self._js.get_last_msg(self._dead, f"{self.namespace}.dead.{_key(job_id)}")
        except NotFoundError:
            return False
        assert dead.seq is not None
        try:
            await self._js.delete_msg(self._dead, dead.seq)
        except NotFoundError:
            return False  # another caller removed it first
        return True

    # Counts and cleanup.

    async def _stats(self) -> QueueStats:
        await self._ensure_set_up()
        ns = self.namespace
        interactive, batch, delayed, dead = await asyncio.gather(
            self._js.consumer_info(self._jobs, f"{ns}_{Lane.INTERACTIVE}"),
            self._js.consumer_info(self._jobs, f"{ns}_{Lane.BATCH}"),
            self._js.consumer_info(self._jobs, f"{ns}_delayed"),
            self._js.stream_info(self._dead),
        )
        return QueueStats(
            ready={"interactive": interactive.num_pending or 0, "batch": batch.num_pending or 0},
            delayed=delayed.num_pending or 0,
            in_flight=(interactive.num_ack_pending or 0) + (batch.num_ack_pending or 0),
            dead=dead.state.messages,
        )

    async def _purge(self) -> None:
        async with self._setup_lock:
            for stream in (self._jobs, self._dead):
                with contextlib.suppress(NotFoundError):
                    await self._js.delete_stream(stream)
            self._set_up = False
