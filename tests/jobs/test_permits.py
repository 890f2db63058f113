"""A worker's compute permits: at most their count held, interactive waiters first, each lane in turn."""

from __future__ import annotations

import threading
import time

from mediasift.jobs.permits import ComputePermits


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
