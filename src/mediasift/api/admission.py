"""Searches admitted in the order they arrive, a few at a time.

On a machine with few cores, every search started at once shares them with the others: 8 clients
on 2 cores made each search's Python threads and PostgreSQL backends wait for the scheduler, whose
unfairness (a thread that just gave up the GIL can take it back; one backend gets a core for
longer) put the slowest searches far behind the mean. Admitting as many as there are cores and
queueing the rest first come, first served makes a search's wait the work ahead of it.

A wait has a limit (``api_search_wait_s``): a search not admitted by then is refused with
:class:`SearchesBusy` (503 with Retry-After), so a flood of slow searches cannot hold the API's
threads, and the clients behind them, without end.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

RETRY_AFTER_S = 5


class SearchesBusy(Exception):
    """A search waited its limit for a turn without getting one."""

    def __init__(self, waited_s: float) -> None:
        super().__init__(
            f"the search server is busy: this search waited {waited_s:g} s for a turn behind others "
            f"(MEDIASIFT_API_SEARCH_WAIT_S); retry in {RETRY_AFTER_S} s"
        )
        self.retry_after_s = RETRY_AFTER_S


class FifoAdmission:
    """At most ``limit`` holders at once; the others wait in arrival order (a slot given up goes
    straight to the longest waiter, so a newcomer cannot take it first), each at most ``wait_s``."""

    def __init__(self, limit: int, wait_s: float = 30.0) -> None:
        if limit < 1:
            raise ValueError(f"the admission limit must be at least 1, not {limit}")
        self.limit = limit
        self.wait_s = wait_s
        self._lock = threading.Lock()
        self._holders = 0
        self._waiting: deque[threading.Event] = deque()

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold a slot for the ``with`` block, waiting for one in turn; :class:`SearchesBusy` when
        none came within ``wait_s``."""
        with self._lock:
            turn = None
            if self._holders < self.limit and not self._waiting:
                self._holders += 1
            else:
                turn = threading.Event()
                self._waiting.append(turn)
        if turn is not None and not turn.wait(self.wait_s):
            with self._lock:
                handed_over = turn.is_set()  # given the slot just as the wait ran out: it is this one's
                if not handed_over:
                    self._waiting.remove(turn)
            if not handed_over:
                raise SearchesBusy(self.wait_s)
        # Admitted: the count of holders already includes this one (a slot handed over is counted).
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
