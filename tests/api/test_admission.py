"""Searches admitted a few at a time, in the order they arrive."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from mediasift.api.admission import WHOLE, FifoAdmission


def test_at_most_the_limit_hold_at_once_and_waiters_enter_in_arrival_order() -> None:
    """Two hold the slots; five queue, each before the next arrives. Freeing one slot at a time lets in
    exactly the longest waiter each time (freeing two at once would let two in together, whose own
    order no one could tell)."""
    gate = FifoAdmission(2 * WHOLE)  # two whole shares
    leave = [threading.Event() for _ in range(7)]  # 0-1: the first holders, 2-6: the waiters 0-4
    entered: list[int] = []
    lock = threading.Lock()

    def hold(i: int) -> None:
        with gate.admitted():
            with lock:
                entered.append(i)
            leave[i].wait(10)

    def until(condition: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + 5
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.001)
        return condition()

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(7)]
    for i, thread in enumerate(threads):
        thread.start()
        if i < 2:
            assert until(lambda i=i: len(entered) == i + 1)
        else:
            assert until(lambda i=i: len(gate._waiting) == i - 1)
    assert entered == [0, 1], "the two slots are taken; the waiters wait"
    for i in range(5):
        leave[i].set()  # one slot freed: the longest waiter, and only it, comes in
        assert until(lambda i=i: len(entered) == 3 + i), entered
        time.sleep(0.01)
        assert entered == [0, 1, *range(2, 3 + i)], "no second one came in: two hold the slots again"
    for event in leave:
        event.set()
    for thread in threads:
        thread.join(10)


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FifoAdmission(0)
