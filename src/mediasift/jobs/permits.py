"""The compute permits of one worker: how many of the jobs it holds compute at once.

Waiting jobs of the interactive lane are served before those of the batch lane, each lane in the
order its jobs asked: a worker holds more jobs than it computes (:mod:`mediasift.jobs.runtime`), and an
interactive job fetched behind batch jobs must not wait for them to compute first.
"""

from __future__ import annotations

import threading
from collections import deque

WAKE_S = 0.5  # how often a waiter looks at its cancel flag


class ComputePermits:
    def __init__(self, count: int) -> None:
        self._free = count
        self._changed = threading.Condition()
        self._waiting: dict[bool, deque[object]] = {True: deque(), False: deque()}  # by urgent

    def acquire(self, *, urgent: bool, cancelled: threading.Event) -> bool:
        """Take a permit when it is this caller's turn; False, without one, once ``cancelled`` is set."""
        ticket = object()
        with self._changed:
            self._waiting[urgent].append(ticket)
            try:
                while not self._my_turn(ticket, urgent):
                    if cancelled.is_set():
                        return False
                    self._changed.wait(WAKE_S)
                self._free -= 1
                return True
            finally:
                self._waiting[urgent].remove(ticket)
                self._changed.notify_all()

    def _my_turn(self, ticket: object, urgent: bool) -> bool:
        if self._free <= 0 or self._waiting[urgent][0] is not ticket:
            return False
        return urgent or not self._waiting[True]

    def release(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify_all()
