"""Worker runtime semantics on every broker: crashes, time limits, graceful stop, retries, dead
letters, circuit breakers, lanes and bounded work in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from mediasift.jobs.breaker import CircuitBreakers
from mediasift.jobs.broker import Broker
from mediasift.jobs.model import ErrorClass, Job, Lane
from mediasift.jobs.runtime import JobContext, RetryPolicy, Worker
from mediasift.pipeline.failures import classify

from support.databases import LEASE_S

FAST = RetryPolicy(base_s=0.05, cap_s=0.2)


def job(n: int | str, kind: str = "k", lane: Lane = Lane.BATCH, **extra: Any) -> Job:
    return Job(id=f"job-{n}", kind=kind, lane=lane, group=extra.pop("group", "g"), payload=extra.pop("payload", {}),
               **extra)  # fmt: skip


def run_until(worker: Worker, done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    worker.run(until=lambda: done() or time.monotonic() > deadline)
    assert done(), "the work did not finish in time"


def drained(broker: Broker) -> Callable[[], bool]:
    def check() -> bool:
        stats = broker.stats()
        return stats.depth == 0 and stats.in_flight == 0

    return check


def test_backoff_is_capped_exponential_with_jitter() -> None:
    policy = RetryPolicy(base_s=1.0, cap_s=10.0)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10, "jittered"


def test_transient_failures_retry_until_success(broker: Broker) -> None:
    attempts: list[int] = []

    def flaky(j: Job, ctx: JobContext) -> None:
        attempts.append(ctx.delivery.attempt)
        if ctx.delivery.attempt < 3:
            raise ConnectionError("model server restarting")

    broker.publish([job(1, max_attempts=5)])
    worker = Worker(broker, {"k": flaky}, worker_id="w", classify=classify, retry=FAST)
    run_until(worker, drained(broker))
    assert attempts == [1, 2, 3] and broker.dead_letters() == []
    assert worker.stats.retried == 2 and worker.stats.processed == 1


def test_permanent_errors_and_exhausted_retries_are_dead_lettered(broker: Broker) -> None:
    from mediasift.errors import PermanentError

    def fail(j: Job, ctx: JobContext) -> None:
        if j.payload["how"] == "corrupt":
            raise PermanentError("truncated video")
        raise TimeoutError("the model did not answer")

    broker.publish([job("bad", payload={"how": "corrupt"}), job("slow", payload={"how": "slow"}, max_attempts=3)])
    worker = Worker(broker, {"k": fail}, worker_id="w", classify=classify, retry=FAST)
    run_until(worker, lambda: broker.stats().dead == 2)
    dead = {d.job.id: d for d in broker.dead_letters()}
    assert (dead["job-bad"].attempts, dead["job-bad"].error_class) == (1, "permanent")
    assert "truncated video" in dead["job-bad"].message and "PermanentError" in dead["job-bad"].traceback
    assert (dead["job-slow"].attempts, dead["job-slow"].error_class) == (3, "exhausted")


def test_the_classifier_the_worker_is_given_decides_what_is_retried(broker: Broker) -> None:
    seen: list[BaseException] = []

    def everything_is_permanent(exc: BaseException) -> ErrorClass:
        seen.append(exc)
        return ErrorClass.PERMANENT

    def flaky(j: Job, ctx: JobContext) -> None:
        raise ConnectionError("model server restarting")

    broker.publish([job(1, max_attempts=5)])
    worker = Worker(broker, {"k": flaky}, worker_id="w", classify=everything_is_permanent, retry=FAST)
    run_until(worker, lambda: broker.stats().dead == 1)
    (dead,) = broker.dead_letters()
    assert (dead.attempts, dead.error_class) == (1, "permanent"), "dead-lettered at once, never retried"
    assert worker.stats.retried == 0 and [type(exc) for exc in seen] == [ConnectionError]


def test_unknown_job_kinds_are_dead_lettered_not_lost(broker: Broker) -> None:
    broker.publish([job(1, kind="nobody-handles-this")])
    worker = Worker(broker, {"k": lambda j, c: None}, worker_id="w", classify=classify)
    run_until(worker, lambda: broker.stats().dead == 1)
    assert "no handler" in broker.dead_letters()[0].message


@pytest.mark.parametrize("computing", [False, True], ids=["outside-a-permit", "holding-a-permit"])
def test_a_job_past_its_time_limit_is_cancelled_and_retried(broker: Broker, computing: bool) -> None:
    finished: list[int] = []

    def sometimes_hangs(j: Job, ctx: JobContext) -> None:
        with ctx.computing() if computing else nullcontext():
            if ctx.delivery.attempt == 1:
                ctx.cancelled.wait(10)  # past its 0.5 s limit
                return
        finished.append(ctx.delivery.attempt)

    broker.publish([job(1, timeout_s=0.5)])
    worker = Worker(broker, {"k": sometimes_hangs}, worker_id="w", classify=classify, concurrency=2, retry=FAST)
    run_until(worker, lambda: bool(finished) and drained(broker)())
    assert finished == [2] and worker.stats.timed_out == 1


def test_timeouts_whose_threads_come_back_do_not_stop_the_worker(broker: Broker) -> None:
    """Three jobs time out one after another on a worker of concurrency 1, and each hung thread comes back
    a moment after it is told it was cancelled: the worker keeps working (it gives up for a restart only
    while every thread is still out ``stuck_after_s`` after it was told), and each job succeeds on its
    second attempt."""
    finished: list[str] = []

    def first_try_hangs(j: Job, ctx: JobContext) -> None:
        if ctx.delivery.attempt == 1:
            ctx.cancelled.wait(10)
            time.sleep(0.1)  # cleaning up on the way back
            return
        finished.append(j.id)

    broker.publish([job(i, timeout_s=0.3) for i in range(3)])
    worker = Worker(broker, {"k": first_try_hangs}, worker_id="w", classify=classify, concurrency=1, retry=FAST)
    run_until(worker, lambda: len(finished) == 3 and drained(broker)())
    assert worker.stats.timed_out == 3 and worker.exit_code == 0


def test_a_worker_whose_every_thread_is_stuck_exits_for_a_restart(broker: Broker) -> None:
    release = threading.Event()

    def stuck(j: Job, ctx: JobContext) -> None:
        release.wait(30)  # deaf to ``cancelled``

    broker.publish([job(1, timeout_s=0.3)])
    worker = Worker(broker, {"k": stuck}, worker_id="w", classify=classify, concurrency=1, retry=FAST,
                    stuck_after_s=1.0)  # fmt: skip
    started = time.monotonic()
    try:
        assert worker.run() == 75
    finally:
        release.set()
    assert time.monotonic() - started >= 1.3, "a thread is stuck only once it stayed out 1 s after it was told"


def test_a_circuit_breaker_pauses_jobs_instead_of_burning_their_attempts(broker: Broker) -> None:
    model_up = threading.Event()
    calls: list[str] = []

    def needs_model(j: Job, ctx: JobContext) -> None:
        calls.append(j.id)
        if not model_up.is_set():
            raise ConnectionError("model down")

    broker.publish([job(i, max_attempts=2) for i in range(12)])
    worker = Worker(
        broker, {"k": needs_model}, worker_id="w", classify=classify, concurrency=1, retry=RetryPolicy(0.2, 0.4),
        breakers=CircuitBreakers(threshold=3, cooldown_s=1.0), dependency_of=lambda j: "ocr-model",
    )  # fmt: skip
    threading.Timer(2.5, model_up.set).start()
    run_until(worker, drained(broker), timeout=60)
    assert broker.dead_letters() == [], "no job was burned into the dead-letter queue"
    assert worker.stats.paused > 0
    assert len(calls) < 12 * 2, "paused jobs were not tried"


def test_a_job_that_fails_every_time_it_probes_the_breaker_is_given_up_on(broker: Broker) -> None:
    """Its failures open the breaker, and as the only job it is each probe: paused forever, it would
    never reach the dead-letter queue."""

    def broken_input(j: Job, ctx: JobContext) -> None:
        raise ConnectionError("the decoder choked on this file")

    broker.publish([job("poison", max_attempts=10)])
    worker = Worker(
        broker, {"k": broken_input}, worker_id="w", classify=classify, concurrency=1, retry=RetryPolicy(0.05, 0.1),
        breakers=CircuitBreakers(threshold=2, cooldown_s=0.3), dependency_of=lambda j: "asr-model",
    )  # fmt: skip
    run_until(worker, lambda: broker.stats().dead == 1, timeout=60)
    (dead,) = broker.dead_letters()
    assert dead.error_class == "exhausted" and "the input, not the model" in dead.message
    assert dead.attempts < 10, "given up on before its attempts ran out"


def test_interactive_work_goes_ahead_of_a_batch_backlog(broker: Broker) -> None:
    order: list[Lane] = []
    broker.publish([job(f"b{i}") for i in range(40)])
    broker.publish([job(f"i{i}", lane=Lane.INTERACTIVE) for i in range(4)])

    def record(j: Job, ctx: JobContext) -> None:
        order.append(j.lane)
        time.sleep(0.01)

    worker = Worker(broker, {"k": record}, worker_id="w", classify=classify, concurrency=2)
    run_until(worker, drained(broker))
    last_interactive = max(i for i, lane in enumerate(order) if lane is Lane.INTERACTIVE)
    assert last_interactive < 12, f"interactive jobs finished by position {last_interactive} of {len(order)}"
    assert order.count(Lane.BATCH) == 40


def test_an_interactive_flood_does_not_starve_the_batch_lane(broker: Broker) -> None:
    """Interactive jobs keep arriving faster than the worker can run them, from before the batch jobs
    are taken until after the last of them is done: the batch jobs still finish within a bound, with
    a share of the slots (the worker means batch to have a quarter; a tenth is asked here), and the
    interactive lane still has the larger share."""
    batch, bound_s = 6, 20.0
    finished: list[Lane] = []
    backlog_when_batch_done: list[int] = []
    lock = threading.Lock()
    worker: Worker

    def run(j: Job, ctx: JobContext) -> None:
        time.sleep(0.02)
        with lock:
            finished.append(j.lane)
            last = j.lane is Lane.BATCH and finished.count(Lane.BATCH) == batch
        if last:
            backlog_when_batch_done.append(broker.stats().ready.get(Lane.INTERACTIVE.value, 0))
            worker.stop()

    flooding = threading.Event()
    flooding.set()

    def flood() -> None:
        n = 0
        while flooding.is_set():  # 200 jobs a second; two slots at 20 ms a job run 100 at most
            broker.publish([job(f"i{n + k}", lane=Lane.INTERACTIVE) for k in range(10)])
            n += 10
            time.sleep(0.05)

    broker.publish([job(f"b{i}") for i in range(batch)])
    broker.publish([job(f"early{k}", lane=Lane.INTERACTIVE) for k in range(40)])
    flooder = threading.Thread(target=flood, name="flood")
    flooder.start()
    worker = Worker(broker, {"k": run}, worker_id="w", classify=classify, concurrency=2)
    give_up = threading.Timer(bound_s, worker.stop)
    give_up.start()
    started = time.monotonic()
    try:
        worker.run()
    finally:
        give_up.cancel()
        flooding.clear()
        flooder.join()
    took = time.monotonic() - started
    done = finished.count(Lane.BATCH)
    assert done == batch, f"batch starved: {done} of {batch} batch jobs finished in {took:.0f} s"
    assert backlog_when_batch_done and backlog_when_batch_done[0] > 0, "the flood was still queued when batch finished"
    upto = len(finished) - finished[::-1].index(Lane.BATCH)  # the jobs finished until the last batch one
    interactive = finished[:upto].count(Lane.INTERACTIVE)
    assert batch >= upto / 10, f"batch had {batch} of the first {upto} slots"
    assert interactive >= batch, f"interactive had {interactive} of the first {upto} slots, batch {batch}"


def test_a_worker_holds_twice_its_concurrency_and_computes_its_concurrency(broker: Broker) -> None:
    held = computing = 0
    peaks = {"held": 0, "computing": 0}
    lock = threading.Lock()

    def busy(j: Job, ctx: JobContext) -> None:
        nonlocal held, computing
        with lock:
            held += 1
            peaks["held"] = max(peaks["held"], held)
        time.sleep(0.01)  # the job's own database work, before it computes
        with ctx.computing():
            with lock:
                computing += 1
                peaks["computing"] = max(peaks["computing"], computing)
            time.sleep(0.02)
            with lock:
                computing -= 1
        with lock:
            held -= 1

    broker.publish([job(i) for i in range(60)])
    worker = Worker(broker, {"k": busy}, worker_id="w", classify=classify, concurrency=3)
    run_until(worker, drained(broker))
    assert peaks == {"held": 6, "computing": 3}


def test_a_jobs_time_limit_does_not_count_its_wait_for_a_compute_permit(broker: Broker) -> None:
    """Concurrency 1: the second job waits 0.7 s for the first to compute, then computes 0.7 s itself.
    1.4 s after it was taken, it is within its 1 s limit: the wait was the worker's queue, not work."""
    finished: list[str] = []

    def computes(j: Job, ctx: JobContext) -> None:
        with ctx.computing():
            time.sleep(0.7)
        finished.append(j.id)

    broker.publish([job(i, timeout_s=1.0) for i in range(2)])
    worker = Worker(broker, {"k": computes}, worker_id="w", classify=classify, concurrency=1, retry=FAST)
    run_until(worker, lambda: len(finished) == 2 and drained(broker)())
    assert worker.stats.timed_out == 0 and sorted(finished) == ["job-0", "job-1"]


def _spawn_worker(broker: Broker, database_url: str, records: Path) -> subprocess.Popen[str]:
    url = getattr(broker, "url", "") if broker.name != "postgres" else ""
    namespace = broker.namespace  # type: ignore[attr-defined]
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "support" / "job_worker.py"), url, database_url, namespace,
         str(LEASE_S), "2", str(records)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _database_url(broker: Broker) -> str:
    return str(getattr(broker, "database_url", None) or broker.url)  # type: ignore[attr-defined]


def test_a_killed_workers_job_is_redelivered_within_its_lease(broker: Broker, tmp_path: Path) -> None:
    broker.publish([job(1, kind="sleep", payload={"s": 30})])
    victim = _spawn_worker(broker, _database_url(broker), tmp_path)
    deadline = time.monotonic() + 10
    while broker.stats().in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert broker.stats().in_flight == 1
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.monotonic()

    def quick(j: Job, ctx: JobContext) -> None:
        (tmp_path / f"{j.id}.{ctx.delivery.attempt}.rescuer").write_text("done")

    rescuer = Worker(broker, {"sleep": quick}, worker_id="rescuer", classify=classify)
    run_until(rescuer, lambda: any(tmp_path.glob("job-1.*")), timeout=LEASE_S * 10)
    assert time.monotonic() - killed_at < LEASE_S * 5
    assert [p.name for p in tmp_path.iterdir()] == ["job-1.2.rescuer"]


def test_sigterm_finishes_what_is_in_flight_and_takes_nothing_new(broker: Broker, tmp_path: Path) -> None:
    broker.publish([job(1, kind="sleep", payload={"s": 1.5})])
    proc = _spawn_worker(broker, _database_url(broker), tmp_path)
    deadline = time.monotonic() + 10
    while broker.stats().in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    broker.publish([job(2, kind="sleep", payload={"s": 0}, lane=Lane.INTERACTIVE)], delay_s=0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert [p.name.split(".")[0] for p in tmp_path.iterdir()] == ["job-1"], "finished, and took nothing new"
    stats = broker.stats()
    assert stats.in_flight == 0 and stats.delayed + sum(stats.ready.values()) == 1


def test_a_jobs_follow_ups_go_out_ahead_of_work_queued_before_them(broker: Broker) -> None:
    """Where a job queues its follow-ups in its own transaction (PostgreSQL), a worker finishes what it
    started: they come out before jobs queued earlier to start other work."""
    publish_within = getattr(broker, "publish_within", None)
    if publish_within is None:
        pytest.skip("this broker publishes follow-ups after the job, behind what is queued")
    broker.publish([job("first"), job("later")])
    (first,) = broker.fetch("c1", {Lane.BATCH: 1}, 1.0)
    ctx = JobContext(delivery=first, broker=broker)
    with broker.queue.pool.connection() as conn, conn.transaction():  # type: ignore[attr-defined]
        ctx.publish_within(conn, [job("follow-up")])
    broker.ack([first])
    order = []
    while batch := broker.fetch("c1", {Lane.BATCH: 1}, 0.5):
        order += [d.job.id for d in batch]
        broker.ack(batch)
    assert order == ["job-follow-up", "job-later"]
