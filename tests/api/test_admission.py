"""Searches admitted a few at a time, in the order they arrive."""

from __future__ import annotations

import threading
import time

import pytest

from mediasift.api.admission import FifoAdmission


def test_at_most_the_limit_hold_at_once_and_waiters_enter_in_arrival_order() -> None:
    gate = FifoAdmission(2)
    held = [threading.Event() for _ in range(2)]
    done = [threading.Event() for _ in range(2)]
    entered: list[int] = []
    lock = threading.Lock()
    inside = 0
    most = 0

    def hold(i: int) -> None:
        with gate.admitted():
            held[i].set()
            done[i].wait(10)

    def wait_turn(i: int) -> None:
        nonlocal inside, most
        with gate.admitted():
            with lock:
                entered.append(i)
                inside += 1
                most = max(most, inside)
            time.sleep(0.01)
            with lock:
                inside -= 1

    holders = [threading.Thread(target=hold, args=(i,)) for i in range(2)]
    for t in holders:
        t.start()
    assert all(h.wait(5) for h in held)
    waiters = []
    for i in range(5):  # each queued before the next arrives
        waiters.append(threading.Thread(target=wait_turn, args=(i,)))
        waiters[-1].start()
        deadline = time.monotonic() + 5
        while len(gate._waiting) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    assert entered == [], "no slot was free"
    for d in done:
        d.set()
    for t in [*holders, *waiters]:
        t.join(10)
    assert entered == [0, 1, 2, 3, 4] and most <= 2


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FifoAdmission(0)
