"""The worker runtime: fetch under a bounded budget, run, settle; heartbeat leases; retry with
capped exponential backoff and jitter; bury what cannot succeed; pause what a circuit breaker guards;
time out what hangs; stop gracefully.

What a failure means (permanent, transient, a timeout) is not the runtime's to know: its owner gives
it a classifier, the pipeline's (:func:`mediasift.pipeline.failures.classify`) in mediasift.

Handlers run in threads (model runtimes release the GIL). A job past its time limit is given up:
its lease is released for a retry and its thread is told to stop (``JobContext.cancelled``). A
thread cannot be killed, so a worker left with as many stuck threads as its concurrency (threads told
to stop ``stuck_after_s`` ago and not back) stops and exits with ``EXIT_STUCK`` for its supervisor to
restart it.

A worker of concurrency N holds up to ``HELD_PER_PERMIT`` x N jobs, of which N compute at once (a
handler computes inside :meth:`JobContext.computing`). A job's own database work before and after its
computation (locks, lineage, the claim of the next one) is mostly waiting on round trips: with only N
jobs held, a core sat idle through it. Measured on two cores with bench/photos.py (60 photos, 7 jobs
each): N held, 20.3-21.1 s; 2N held, 17.5-19.8 s (three runs each, interleaved). Those waiting for a permit
are served interactive lane first (:mod:`mediasift.jobs.permits`).
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry.trace import SpanKind

from mediasift import telemetry
from mediasift.jobs.breaker import CircuitBreakers
from mediasift.jobs.broker import Broker
from mediasift.jobs.model import Delivery, ErrorClass, Failure, Job, Lane
from mediasift.jobs.permits import ComputePermits

log = logging.getLogger(__name__)

Classifier = Callable[[BaseException], ErrorClass]

EXIT_STUCK = 75
HELD_PER_PERMIT = 2
# A job that fails this many times as the probe of its open circuit breaker is given up on.
PROBE_STRIKES = 3
# How far ahead a job's follow-ups go in a queue ordered by readiness (JobContext.publish_within).
FOLLOW_UPS_AHEAD_S = 3600.0


@dataclass
class JobContext:
    """What a handler gets besides its job: the delivery, the id of the worker running it, a cancel
    flag, and the means to complete the job inside its own database transaction where the broker
    allows it."""

    delivery: Delivery
    broker: Broker
    worker_id: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)
    settled: bool = False
    follow_ups: list[Job] = field(default_factory=list)
    permits: ComputePermits | None = None  # the worker's compute permits; None: no limit
    waiting_since: float | None = None  # when (monotonic) it began to wait for a permit, while it waits
    waited_s: float = 0.0  # time spent waiting for permits before that

    @contextmanager
    def computing(self) -> Iterator[None]:
        """Hold one of the worker's compute permits (its concurrency) while the job computes. A job
        given up on while it waits for one raises :class:`JobCancelled` (the body does not run)."""
        if self.permits is None:
            yield
            return
        urgent = self.delivery.job.lane is Lane.INTERACTIVE
        self.waiting_since = time.monotonic()
        try:
            admitted = self.permits.acquire(urgent=urgent, cancelled=self.cancelled)
        finally:
            self.waited_s += time.monotonic() - self.waiting_since
            self.waiting_since = None
        if not admitted:
            raise JobCancelled("the job was given up while it waited to compute")
        try:
            with self.permits.counted():
                yield
        finally:
            self.permits.release()

    def run_s(self, started: float, now: float) -> float:
        """How long the job has run since ``started``, less its waits for a compute permit: its time
        limit counts work, not the queue inside the worker."""
        waiting = self.waiting_since
        return now - started - self.waited_s - (now - waiting if waiting is not None else 0.0)

    def complete_within(self, conn: Any) -> None:
        """Ack in the caller's transaction (PostgreSQL broker), so results and completion commit
        together; other brokers are acked by the runtime after the handler returns."""
        ack_within = getattr(self.broker, "ack_within", None)
        if ack_within is not None:
            ack_within(conn, [self.delivery])
            self.settled = True

    def publish_within(self, conn: Any, jobs: Sequence[Job]) -> None:
        """Queue follow-up jobs in the caller's transaction where the broker allows it; otherwise they
        are published after the handler returns and before its job is acked (at-least-once).

        In the transaction (PostgreSQL, whose queue hands out the earliest ready first) they are ready
        as if queued ``FOLLOW_UPS_AHEAD_S`` ago: ahead of the jobs that start other work, so a worker
        finishes what it started before it starts more. A batch's assets are then done one after
        another rather than all at its end, and its tail is not every asset's last step."""
        publish_within = getattr(self.broker, "publish_within", None)
        if publish_within is not None:
            publish_within(conn, jobs, delay_s=-FOLLOW_UPS_AHEAD_S)
        else:
            self.follow_ups.extend(jobs)


class JobCancelled(Exception):
    """Raised in a handler's thread when its job was given up (timed out, or the worker stopping)."""


class Handler(Protocol):
    def __call__(self, job: Job, ctx: JobContext) -> None: ...


class Hooks(Protocol):
    """What the owner of the jobs (the pipeline) wants to know about their fate."""

    def on_retry(self, job: Job, attempt: int, failure: Failure, delay_s: float) -> None: ...

    def on_dead(self, job: Job, attempt: int, failure: Failure) -> None: ...


@dataclass
class RetryPolicy:
    base_s: float = 2.0
    cap_s: float = 300.0

    def delay(self, attempt: int) -> float:
        """Capped exponential backoff with jitter ("equal jitter": half fixed, half random)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass
class WorkerStats:
    processed: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0
    paused: int = 0
    timed_out: int = 0

    def __str__(self) -> str:
        """As a person reads it at the end of a run: "12 done, 1 failed (1 retried, 0 dead), ..."."""
        return (
            f"{self.processed} done, {self.failed} failed ({self.retried} retried, {self.dead} dead), "
            f"{self.paused} paused by a breaker, {self.timed_out} timed out"
        )


@dataclass
class _Running:
    delivery: Delivery
    context: JobContext
    started: float
    future: Future[None]


class Worker:
    def __init__(
        self,
        broker: Broker,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str,
        classify: Classifier,
        concurrency: int = 2,
        model_threads: int = 1,
        cores: float | None = None,
        lanes: Sequence[Lane] = (Lane.INTERACTIVE, Lane.BATCH),
        interactive_share: float = 0.75,
        groups: set[str] | None = None,
        dependency_of: Callable[[Job], str | None] = lambda job: None,
        hooks: Hooks | None = None,
        retry: RetryPolicy | None = None,
        breakers: CircuitBreakers | None = None,
        heartbeat_s: float | None = None,
        on_heartbeat: Callable[[Worker], None] | None = None,
        fetch_wait_s: float = 0.5,
        grace_s: float = 30.0,
        stuck_after_s: float = 10.0,
    ) -> None:
        self.broker = broker
        self.handlers = dict(handlers)
        self.id = worker_id
        self.classify = classify
        self.concurrency = concurrency
        self.lanes = list(lanes)
        self.interactive_share = interactive_share
        self.groups = None if groups is None else frozenset(groups)
        self.dependency_of = dependency_of
        self.hooks = hooks
        self.retry = retry or RetryPolicy()
        self.breakers = breakers or CircuitBreakers()
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else broker.lease_s / 3
        self.on_heartbeat = on_heartbeat
        self.fetch_wait_s = fetch_wait_s
        self.grace_s = grace_s
        self.stuck_after_s = stuck_after_s
        self.stats = WorkerStats()
        self._probe_strikes: dict[str, int] = {}  # job id -> times it failed as its breaker's probe
        self.exit_code = 0
        self._stop = threading.Event()
        self._beat_stop = threading.Event()
        self._running: dict[Future[None], _Running] = {}
        self._abandoned: dict[Future[None], float] = {}  # threads told to stop -> when they were told
        self._lock = threading.Lock()
        self.held = concurrency * HELD_PER_PERMIT  # jobs held at once, ``concurrency`` of them computing
        # each computing job counted at its model threads, or its share of the cores when they are fewer
        self._permits = ComputePermits(concurrency, threads=model_threads, cores=cores)
        # Twice the jobs held: a thread given up on (past its job's time limit) cannot be reclaimed.
        self._pool = ThreadPoolExecutor(max_workers=self.held * 2, thread_name_prefix="job")
        self._refill_at = max(1, self.held // 4)

    # -- lifecycle --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop taking work; what is in flight finishes (within the grace period) or is released."""
        self._stop.set()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def run(self, until: Callable[[], bool] | None = None) -> int:
        """Work until stopped (or until ``until()`` is true); return the exit code."""
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        try:
            while not self._stop.is_set():
                self._settle_finished(block=False)
                self._enforce_timeouts()
                # Idle: asked before the broker is waited on, so a worker whose work is done ends at
                # once rather than after a fetch's wait.
                if until is not None and not self._running and until():
                    break
                free = self.held - len(self._running)
                # Refill in batches (a quarter of the slots at least) rather than one slot at a time:
                # fewer, fuller round trips to the broker.
                if free > 0 and (not self._running or free >= self._refill_at):
                    wait_s = self.fetch_wait_s if not self._running else 0.0
                    fetched = self.broker.fetch(self.id, self._quotas(free), wait_s, self.groups)
                    for delivery in fetched:
                        self._dispatch(delivery)
                    if not fetched and self._running:
                        self._settle_finished(block=True)  # nothing queued: wait on what runs, not the broker
                else:
                    self._settle_finished(block=True)
            self._drain()
        finally:
            self._stop.set()
            self._beat_stop.set()
            beat.join(timeout=self.heartbeat_s + 1)
            self._pool.shutdown(wait=False, cancel_futures=True)
        return self.exit_code

    def _quotas(self, free: int) -> dict[Lane, int]:
        """Share free slots between lanes, favouring interactive, never starving batch."""
        if self.lanes == [Lane.INTERACTIVE] or self.lanes == [Lane.BATCH]:
            return {self.lanes[0]: free}
        interactive = max(1, round(free * self.interactive_share))
        return {Lane.INTERACTIVE: interactive, Lane.BATCH: max(1, free - interactive) if free > 1 else 1}

    def _drain(self) -> None:
        deadline = time.monotonic() + self.grace_s
        while self._running and time.monotonic() < deadline:
            self._settle_finished(block=True)
            self._enforce_timeouts()
        for running in list(self._running.values()):
            running.context.cancelled.set()
            self.broker.release(running.delivery, delay_s=0.0, count_attempt=False)
        self._running.clear()

    def _heartbeat_loop(self) -> None:
        """Renew the leases of what runs, until the run loop (drain included) is over."""
        while not self._beat_stop.wait(self.heartbeat_s):
            with self._lock:
                held = [r.delivery for r in self._running.values()]
            try:
                self.broker.extend(held)
                if self.on_heartbeat is not None:
                    self.on_heartbeat(self)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    # -- running ----------------------------------------------------------------------------------

    def _dispatch(self, delivery: Delivery) -> None:
        job = delivery.job
        if job.kind not in self.handlers:
            self._bury(delivery, Failure(ErrorClass.PERMANENT, f"no handler for job kind {job.kind!r}"))
            return
        if self.groups is not None and job.group not in self.groups:  # a broker that delivers every group's
            self.broker.release(delivery, delay_s=1.0, count_attempt=False)
            return
        if delivery.attempt > job.max_attempts:
            self._bury(delivery, Failure(ErrorClass.EXHAUSTED, f"gave up after {delivery.attempt - 1} attempts "
                                         "(the worker holding it crashed or timed out each time)"))  # fmt: skip
            return
        dependency = self.dependency_of(job)
        if dependency is not None and self.breakers.allow(dependency) > 0:
            self._pause(delivery, dependency)
            return
        context = JobContext(delivery=delivery, broker=self.broker, worker_id=self.id, permits=self._permits)
        handler = self.handlers[job.kind]
        future = self._pool.submit(_traced, handler, job, context)
        with self._lock:
            self._running[future] = _Running(delivery, context, time.monotonic(), future)

    def _settle_finished(self, *, block: bool) -> None:
        if not self._running:
            if block:
                time.sleep(0.05)
            return
        if block:
            wait(list(self._running), timeout=0.2, return_when=FIRST_COMPLETED)
        with self._lock:
            done = [self._running.pop(f) for f in list(self._running) if f.done()]
        succeeded: list[Delivery] = []
        follow_ups: list[Job] = []
        for running in done:
            error = running.future.exception()
            dependency = self.dependency_of(running.delivery.job)
            if error is None:
                self._probe_strikes.pop(running.delivery.job.id, None)
                if dependency is not None:
                    self.breakers.succeeded(dependency)
                follow_ups.extend(running.context.follow_ups)
                if not running.context.settled:
                    succeeded.append(running.delivery)
                self.stats.processed += 1
            else:
                self._failed(running.delivery, error, dependency)
        if follow_ups:
            self.broker.publish(follow_ups)
        if succeeded:
            self.broker.ack(succeeded)

    def _failed(self, delivery: Delivery, error: BaseException, dependency: str | None) -> None:
        error_class = self.classify(error)
        message = f"{type(error).__name__}: {error}"
        trace = "".join(traceback.format_exception(error))
        self.stats.failed += 1
        if error_class is ErrorClass.PERMANENT:
            self._bury(delivery, Failure(error_class, message, trace))
            return
        if dependency is not None:
            probe = self.breakers.probing(dependency)
            if self.breakers.failed(dependency):
                strikes = self._probe_strikes[delivery.job.id] = self._probe_strikes.get(delivery.job.id, 0) + probe
                if strikes >= PROBE_STRIKES:
                    blame = (f" (it failed each of the {strikes} times it was tried alone while the circuit breaker of "
                             f"{dependency} was open: the input, not the model, is the likely cause)")  # fmt: skip
                    self._bury(delivery, Failure(ErrorClass.EXHAUSTED, message + blame, trace))
                    return
                self._pause(delivery, dependency)
                return
        self._retry_or_bury(delivery, Failure(error_class, message, trace))

    def _pause(self, delivery: Delivery, dependency: str) -> None:
        """Release a job whose dependency's breaker is open, without spending one of its attempts."""
        self.stats.paused += 1
        wait_s = self.breakers.open_ones().get(dependency, self.breakers.cooldown_s)
        self.broker.release(delivery, delay_s=wait_s + random.uniform(0, 1), count_attempt=False)

    def _retry_or_bury(self, delivery: Delivery, failure: Failure) -> None:
        if delivery.attempt >= delivery.job.max_attempts:
            tries = f"{delivery.attempt} attempt{'s' if delivery.attempt != 1 else ''}"
            exhausted = Failure(ErrorClass.EXHAUSTED, f"{failure.message} (after {tries})",
                                failure.traceback)  # fmt: skip
            self._bury(delivery, exhausted)
            return
        delay = self.retry.delay(delivery.attempt)
        self.stats.retried += 1
        self.broker.release(delivery, delay_s=delay)
        if self.hooks is not None:
            self.hooks.on_retry(delivery.job, delivery.attempt, failure, delay)

    def _bury(self, delivery: Delivery, failure: Failure) -> None:
        self.stats.dead += 1
        self.broker.bury(delivery, failure)
        if self.hooks is not None:
            self.hooks.on_dead(delivery.job, delivery.attempt, failure)

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [r for r in self._running.values() if r.context.run_s(r.started, now) > r.delivery.job.timeout_s]
            for running in late:
                self._running.pop(running.future)
        for running in late:
            running.context.cancelled.set()
            self.stats.timed_out += 1
            with self._lock:
                self._abandoned[running.future] = now
            # A thread that comes back (the handler saw ``cancelled``, or finished late) is free again.
            running.future.add_done_callback(self._thread_came_back)
            limit = running.delivery.job.timeout_s
            self._retry_or_bury(running.delivery, Failure(ErrorClass.TIMEOUT, f"ran past its {limit:g} s limit"))
        # Only threads still out ``stuck_after_s`` after they were told to stop count towards giving up:
        # counted at once, a handler on its way back from ``cancelled`` stopped a worker of concurrency 1
        # (and a count that only rose stopped one after ``concurrency`` timeouts in its life).
        with self._lock:
            stuck = sum(1 for told in self._abandoned.values() if now - told >= self.stuck_after_s)
        if stuck >= self.concurrency and self.exit_code != EXIT_STUCK:
            log.error("%d jobs are stuck in threads that cannot be stopped; exiting for a restart", stuck)
            self.exit_code = EXIT_STUCK
            self._stop.set()

    def _thread_came_back(self, future: Future[None]) -> None:
        with self._lock:
            self._abandoned.pop(future, None)


def _traced(handler: Handler, job: Job, context: JobContext) -> None:
    """Run ``handler`` in a span continuing the trace its job carries, with the job's id on its logs.
    The pool's threads are reused: the context is copied so that nothing set here outlives the job."""
    contextvars.copy_context().run(_run_tagged, handler, job, context)


def _run_tagged(handler: Handler, job: Job, context: JobContext) -> None:
    telemetry.tag(job_id=job.id)
    attributes = {"job.id": job.id, "job.kind": job.kind, "job.group": job.group, "job.lane": job.lane.value,
                  "job.attempt": context.delivery.attempt, "worker.id": context.worker_id}  # fmt: skip
    parent = job.payload.get(telemetry.TRACEPARENT)
    started = time.perf_counter()
    with telemetry.span(f"job {job.group or job.kind}", attributes, parent=parent, kind=SpanKind.CONSUMER):
        try:
            handler(job, context)
        except Exception as exc:
            log.warning("job %s failed after %.3f s: %s: %s", job.id, time.perf_counter() - started,
                        type(exc).__name__, exc)  # fmt: skip
            raise
        log.info("job %s done in %.3f s", job.id, time.perf_counter() - started)
