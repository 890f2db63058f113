"""The compute permits of one worker: how many of the jobs it holds compute at once, and the share of
the cores each computing job is counted for.

Waiting jobs of the interactive lane are served before those of the batch lane, each lane in the
order its jobs asked: a worker holds more jobs than it computes (:mod:`mediasift.jobs.runtime`), and an
interactive job fetched behind batch jobs must not wait for them to compute first.

A job's cost is its time at the price of a core. A worker may compute more jobs at once than it has
cores: a computing job still waits for the GIL, for a round trip to the database or for a batch of
the inference layer to fill, and jobs beside it fill those gaps. Its wall time is then no longer
a core's time, so each holder is counted ``min(threads, cores / holders)`` core-seconds a second (its
model threads, or its even share of the cores when the holders want more than there are).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

WAKE_S = 0.5  # how often a waiter looks at its cancel flag

# While a job computes: the core clock of the permits it holds one of.
_core_clock: ContextVar[Callable[[], float] | None] = ContextVar("mediasift_core_clock", default=None)


def core_seconds() -> float | None:
    """The core clock of the permit held in this context (:meth:`ComputePermits.clock`): a run's
    core-seconds are the difference of two readings. None outside a permit (a run without a worker:
    its wall time is its core time)."""
    clock = _core_clock.get()
    return None if clock is None else clock()


class ComputePermits:
    """``count`` permits, for jobs of ``threads`` model threads each, on ``cores`` (by default as many
    as the permits want at once: each holder is counted its wall time times its threads)."""

    def __init__(
        self, count: int, *, threads: int = 1, cores: float | None = None, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._now = now  # the clock core time is counted by (a test's, where it must not depend on the machine)
        self._count = count
        self._free = count
        self._threads = threads
        self._cores = cores if cores is not None else count * threads
        self._changed = threading.Condition()
        self._waiting: dict[bool, deque[object]] = {True: deque(), False: deque()}  # by urgent
        self._clock = 0.0  # core-seconds one holder has been counted since the permits were made
        self._since = now()

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
                self._settle()
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
            self._settle()
            self._free += 1
            self._changed.notify_all()

    @contextmanager
    def counted(self) -> Iterator[None]:
        """For a holder of a permit: inside the block, :func:`core_seconds` reads these permits' clock."""
        token = _core_clock.set(self.clock)
        try:
            yield
        finally:
            _core_clock.reset(token)

    def clock(self) -> float:
        """The core-seconds one holder has been counted since the permits were made: a holder's own
        are the difference between this when it stops and when it started."""
        with self._changed:
            self._settle()
            return self._clock

    def _settle(self) -> None:
        """Count the time since the last change for the holders of that time (under the lock)."""
        now = self._now()
        holders = self._count - self._free
        if holders > 0:
            self._clock += (now - self._since) * min(self._threads, self._cores / holders)
        self._since = now
