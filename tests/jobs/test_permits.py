"""A worker's compute permits: at most their count held, interactive waiters first, each lane in turn."""

from __future__ import annotations

import threading
import time

import pytest

from mediasift.jobs.permits import ComputePermits, core_seconds


def _waiter(
    permits: ComputePermits, urgent: bool, name: str, order: list[str], cancel: threading.Event
) -> threading.Thread:
    def run() -> None:
        if permits.acquire(urgent=urgent, cancelled=cancel):
            order.append(name)
            permits.release()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _queued(permits: ComputePermits, count: int) -> None:
    deadline = time.monotonic() + 5
    while sum(len(q) for q in permits._waiting.values()) < count:
        assert time.monotonic() < deadline, "the waiters never queued"
        time.sleep(0.005)


def _one_urgent_waiter(permits: ComputePermits, cancel: threading.Event) -> tuple[threading.Thread, list[bool]]:
    """A thread waiting for a permit (interactive), queued; ``got`` receives what its wait gave."""
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(permits.acquire(urgent=True, cancelled=cancel)))
    thread.start()
    _queued(permits, 1)
    return thread, got


def test_interactive_waiters_go_first_and_each_lane_in_the_order_it_asked() -> None:
    permits = ComputePermits(1)
    never = threading.Event()
    assert permits.acquire(urgent=False, cancelled=never)
    order: list[str] = []
    threads = []
    for count, (urgent, name) in enumerate(
        [(False, "batch-1"), (False, "batch-2"), (True, "interactive-1"), (False, "batch-3"), (True, "interactive-2")]
    ):
        threads.append(_waiter(permits, urgent, name, order, never))
        _queued(permits, count + 1)
    permits.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == ["interactive-1", "interactive-2", "batch-1", "batch-2", "batch-3"]


def test_no_more_than_the_count_are_held_at_once() -> None:
    permits = ComputePermits(2)
    never = threading.Event()
    assert permits.acquire(urgent=False, cancelled=never)
    assert permits.acquire(urgent=True, cancelled=never)
    thread, got = _one_urgent_waiter(permits, threading.Event())
    time.sleep(0.1)
    assert got == []  # both held: it waits
    permits.release()
    thread.join(timeout=5)
    assert got == [True]


def test_a_cancelled_waiter_leaves_without_a_permit_and_out_of_the_queue() -> None:
    permits = ComputePermits(1)
    never = threading.Event()
    assert permits.acquire(urgent=False, cancelled=never)
    cancel = threading.Event()
    thread, got = _one_urgent_waiter(permits, cancel)
    cancel.set()
    thread.join(timeout=5)
    assert got == [False]
    permits.release()
    assert permits.acquire(urgent=False, cancelled=never)  # the one permit is free: nobody took it
    assert all(not queue for queue in permits._waiting.values())


def test_holders_beyond_the_cores_are_counted_their_share_of_them() -> None:
    now = [0.0]
    permits = ComputePermits(4, threads=1, cores=2, now=lambda: now[0])
    never = threading.Event()

    def counted_over(seconds: float) -> float:
        """The core-seconds one holder is counted while ``seconds`` pass."""
        start = permits.clock()
        now[0] += seconds
        return permits.clock() - start

    for _ in range(4):
        assert permits.acquire(urgent=False, cancelled=never)
    assert counted_over(10) == pytest.approx(5.0)  # four jobs of one thread on two cores: half a core each
    permits.release()
    assert counted_over(10) == pytest.approx(20 / 3)  # three: just past the cores, each still short of one
    permits.release()
    assert counted_over(10) == pytest.approx(10.0)  # two: a core each
    permits.release()
    assert counted_over(10) == pytest.approx(10.0)  # one: its one thread, not both cores


def test_a_holder_of_two_threads_is_counted_two_cores_while_they_are_free() -> None:
    now = [0.0]
    permits = ComputePermits(2, threads=2, cores=2, now=lambda: now[0])
    never = threading.Event()
    assert permits.acquire(urgent=False, cancelled=never)
    with permits.counted():
        now[0] += 3
        assert core_seconds() == pytest.approx(6.0)
        assert permits.acquire(urgent=False, cancelled=never)  # a second job: the two share the cores
        now[0] += 3
        assert core_seconds() == pytest.approx(9.0)
    assert core_seconds() is None  # outside a permit: nothing counted
