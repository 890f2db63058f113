"""Searches admitted in the order they arrive, a few at a time.

On a machine with few cores, every search started at once shares them with the others: 8 clients
on 2 cores made each search's Python threads and PostgreSQL backends wait for the scheduler, whose
unfairness (a thread that just gave up the GIL can take it back; one backend gets a core for
longer) put the slowest searches far behind the mean. Admitting as many as there are cores and
queueing the rest first come, first served makes a search's wait the work ahead of it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class FifoAdmission:
    """At most ``limit`` holders at once; the others wait in arrival order (a slot given up goes
    straight to the longest waiter, so a newcomer cannot take it first)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the admission limit must be at least 1, not {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._holders = 0
        self._waiting: deque[threading.Event] = deque()

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold a slot for the ``with`` block, waiting for one in turn."""
        with self._lock:
            turn = None
            if self._holders < self.limit and not self._waiting:
                self._holders += 1
            else:
                turn = threading.Event()
                self._waiting.append(turn)
        if turn is not None:
            turn.wait()  # the slot is handed over: the count of holders already includes this one
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._holders -= 1
