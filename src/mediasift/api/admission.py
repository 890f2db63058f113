"""Searches admitted in the order they arrive, a few at a time.

On a machine with few cores, every search started at once shares them with the others: 8 clients
on 2 cores made each search's Python threads and PostgreSQL backends wait for the scheduler, whose
unfairness (a thread that just gave up the GIL can take it back; one backend gets a core for
longer) put the slowest searches far behind the mean. Admitting as many as there are cores and
queueing the rest first come, first served makes a search's wait the work ahead of it.

A search takes a share of the gate by how it spends its time. One by meaning alone alternates between
the API's Python (its query's embedding, the answer) and its PostgreSQL backend about evenly, so two
of them keep a core busy: it takes :data:`HALF`. A keyword or hybrid search (PostgreSQL most of its
time, or two statements at once), and the other search doors, take a core each: :data:`WHOLE`.
Measured at 1M segments with 8 clients on 2 cores (bench/search.py's data): meaning searches 4 at
once against 2 gave 77-86 queries a second against 67-69, p99 136-149 ms against 141-149; hybrid and
keyword searches 4 at once gained 5-15% throughput but lost at p99 (hybrid 195 ms against 172), and
6 or 8 meaning searches at once lost at p99 too (162-184 ms).

A wait has a limit (``api_search_wait_s``): a search not admitted by then is refused with
:class:`SearchesBusy` (503 with Retry-After), so a flood of slow searches cannot hold the API's
threads, and the clients behind them, without end.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from mediasift.search.hybrid import SearchMode

RETRY_AFTER_S = 5


class SearchesBusy(Exception):
    """A search waited its limit for a turn without getting one."""

    def __init__(self, waited_s: float) -> None:
        super().__init__(
            f"the search server is busy: this search waited {waited_s:g} s for a turn behind others "
            f"(MEDIASIFT_API_SEARCH_WAIT_S); retry in {RETRY_AFTER_S} s"
        )
        self.retry_after_s = RETRY_AFTER_S


# Shares of the gate (see the module): the gate holds WHOLE for each of the searches it lets run at once.
WHOLE = 2
HALF = 1


def share(mode: SearchMode) -> int:
    """The share of the gate a search of ``mode`` takes."""
    return HALF if mode is SearchMode.SEMANTIC else WHOLE


class FifoAdmission:
    """At most ``limit`` units held at once; a caller asks for its share (``admitted(units)``), and
    callers wait in arrival order: the longest waiter goes first as soon as its share is free, and
    none after it goes before it. Each waits at most ``wait_s``."""

    def __init__(self, limit: int, wait_s: float = 30.0) -> None:
        if limit < 1:
            raise ValueError(f"the admission limit must be at least 1, not {limit}")
        self.limit = limit
        self.wait_s = wait_s
        self._lock = threading.Lock()
        self._held = 0
        self._waiting: deque[_Turn] = deque()

    @contextmanager
    def admitted(self, units: int = WHOLE) -> Iterator[None]:
        """Hold ``units`` of the gate (all of it at most) for the ``with`` block, waiting in turn;
        :class:`SearchesBusy` when they did not come within ``wait_s``."""
        units = max(1, min(units, self.limit))
        with self._lock:
            turn = None
            if not self._waiting and self._held + units <= self.limit:
                self._held += units
            else:
                turn = _Turn(units)
                self._waiting.append(turn)
        if turn is not None and not turn.given.wait(self.wait_s):
            with self._lock:
                handed_over = turn.given.is_set()  # given its share just as the wait ran out: it is this one's
                if not handed_over:
                    self._waiting.remove(turn)
                    self._admit_waiting()  # it may have held back smaller shares behind it
            if not handed_over:
                raise SearchesBusy(self.wait_s)
        # Admitted: the units held already include this one's (a share handed over is counted).
        try:
            yield
        finally:
            with self._lock:
                self._held -= units
                self._admit_waiting()

    def _admit_waiting(self) -> None:
        """Hand their shares to the waiters at the head of the queue that now fit (under the lock)."""
        while self._waiting and self._held + self._waiting[0].units <= self.limit:
            turn = self._waiting.popleft()
            self._held += turn.units
            turn.given.set()


class _Turn:
    """A waiter: its share, and the event set when it is handed over."""

    def __init__(self, units: int) -> None:
        self.units = units
        self.given = threading.Event()
