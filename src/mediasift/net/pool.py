"""Fetches run on their own bounded pool of threads, never on the server's shared one: slow servers
out there can hold at most ``concurrency`` threads, and a fetch past that is refused at once
(:class:`FetchBusy`, a 429) instead of waiting in a queue that /healthz would wait behind."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from mediasift.net.errors import FetchBusy

P = ParamSpec("P")
T = TypeVar("T")
# What a refused caller is told to wait (Retry-After): long enough for a typical download to end.
RETRY_AFTER_S = 10


class FetchPool:
    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch")
        self._slots = threading.BoundedSemaphore(concurrency)

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start ``fn`` on a free thread; :class:`FetchBusy` when every thread is taken. The slot is
        held until ``fn`` returns, even when whoever waited for it has gone."""
        if not self._slots.acquire(blocking=False):
            raise FetchBusy(self.concurrency, RETRY_AFTER_S)
        try:
            future = self._executor.submit(fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`submit`, awaited from the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def close(self) -> None:
        """Take no more; fetches in progress end by their deadline."""
        self._executor.shutdown(wait=False, cancel_futures=True)
