"""Cross-job micro-batching: requests for the same model from concurrent jobs run as one call.

Each job thread calls :meth:`MicroBatcher.run` with its inputs and blocks. A dispatcher thread
gathers what arrives until there are ``max_batch`` inputs or the oldest request has waited its time
(short for interactive work, longer for batch work), then makes one model call and hands each caller
its own rows. A model whose runtime computes several calls at once, each on its own threads, gets up
to ``lanes`` dispatchers: while one computes, the next gathers and calls, so two jobs on two cores do
not take turns on one (each call on one thread) while the other core idles.

A dispatcher takes up to ``pool`` times ``max_batch`` inputs at once, so a model that sorts its
inputs by length (the text embedder) can cut them into batches of similar lengths: padding a batch
to its longest text costs more than batching saves.

A batch that fails is retried request by request, so one bad input fails only its own job. The
call is counted once on the model (:mod:`mediasift.inference.stats`), and its cost is shared among
the requests by their number of inputs, each share charged to the job that asked.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mediasift.inference import stats
from mediasift.models import ModelRef

T = TypeVar("T")
R = TypeVar("R")

_interactive: contextvars.ContextVar[bool] = contextvars.ContextVar("mediasift_interactive", default=False)


@contextlib.contextmanager
def interactive_lane(interactive: bool = True) -> Iterator[None]:
    """Model requests made inside the block wait the interactive (short) time for company."""
    token = _interactive.set(interactive)
    try:
        yield
    finally:
        _interactive.reset(token)


@dataclass
class _Request(Generic[T, R]):
    items: Sequence[T]
    deadline: float
    future: Future[list[R]] = field(default_factory=Future)
    cost_usd: float = 0.0


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        model: ModelRef,
        call: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 32,
        wait_s: float = 0.02,
        interactive_wait_s: float = 0.0,
        pool: int = 4,
        usd_per_hour: float = 0.0,
        lanes: int = 1,
    ) -> None:
        self.model = model
        self.call = call
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.interactive_wait_s = interactive_wait_s
        self.pool = pool
        self.usd_per_hour = usd_per_hour
        self.lanes = max(1, lanes)
        self._pending: deque[_Request[T, R]] = deque()
        self._cond = threading.Condition()
        self._dispatchers = 0  # alive
        self._calling = 0  # of them, computing a batch
        self.batches = 0
        self.items = 0

    def run(self, items: Sequence[T]) -> list[R]:
        """The model's results for ``items``, computed together with other callers' inputs."""
        if not items:
            return []
        wait = self.interactive_wait_s if _interactive.get() else self.wait_s
        request: _Request[T, R] = _Request(items, time.monotonic() + wait)
        with self._cond:
            self._pending.append(request)
            if self._dispatchers == self._calling and self._dispatchers < self.lanes:
                self._dispatchers += 1  # none free to take it: one more, up to the lanes
                threading.Thread(target=self._loop, name=f"batcher-{self.model.id}", daemon=True).start()
            self._cond.notify()
        results = request.future.result()
        stats.charge(request.cost_usd)
        return results

    def _loop(self) -> None:
        while True:
            with self._cond:
                batch = self._gathered()
                if batch is None:
                    self._dispatchers -= 1  # idle for a minute: a later request starts another
                    return
                self._calling += 1
            try:
                self._execute(batch)
            except BaseException:  # not a model's error (those go to the callers): this dispatcher ends
                with self._cond:
                    self._calling -= 1
                    self._dispatchers -= 1
                raise
            with self._cond:
                self._calling -= 1

    def _gathered(self) -> list[_Request[T, R]] | None:
        """The next batch once it is full or its oldest request's wait is over; None after a minute
        with nothing to do. Called holding the lock; another dispatcher may take what was waiting."""
        while True:
            if not self._pending:
                if not self._cond.wait(timeout=60.0) and not self._pending:
                    return None
                continue
            queued = sum(len(r.items) for r in self._pending)
            remaining = min(r.deadline for r in self._pending) - time.monotonic()
            if queued >= self.max_batch or remaining <= 0:
                return self._take()
            self._cond.wait(timeout=remaining)

    def _take(self) -> list[_Request[T, R]]:
        """Requests in arrival order up to ``pool * max_batch`` inputs (at least one request)."""
        limit = self.pool * self.max_batch
        taken = [self._pending.popleft()]
        total = len(taken[0].items)
        while self._pending and total + len(self._pending[0].items) <= limit:
            request = self._pending.popleft()
            taken.append(request)
            total += len(request.items)
        return taken

    def _execute(self, batch: list[_Request[T, R]]) -> None:
        flat = [item for request in batch for item in request.items]
        started = time.perf_counter()
        try:
            results = list(self.call(flat))
            if len(results) != len(flat):
                raise RuntimeError(f"{self.model.id} returned {len(results)} results for {len(flat)} inputs")
        except Exception as exc:  # handed to the callers, never lost
            stats.record_error(self.model)
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            for request in batch:  # alone, so only the request that breaks the model fails
                self._execute([request])
            return
        self.batches += 1
        self.items += len(flat)
        seconds = time.perf_counter() - started
        cost = stats.record_call(self.model, len(flat), seconds, stats.compute_cost(seconds, self.usd_per_hour))
        offset = 0
        for request in batch:
            request.cost_usd = cost * len(request.items) / len(flat)
            request.future.set_result(results[offset : offset + len(request.items)])
            offset += len(request.items)
