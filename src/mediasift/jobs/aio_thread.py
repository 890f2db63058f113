"""A private asyncio event loop on a daemon thread, so synchronous code can drive an asyncio-only client.

Every coroutine for the client runs on this one loop, so the client's objects are only ever touched
from one thread; any number of caller threads may submit work at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait for its result; past ``timeout`` it is cancelled and
        ``TimeoutError`` raised."""
        if threading.current_thread() is self._thread or self.loop.is_closed():
            coro.close()
            raise RuntimeError("LoopThread.run called from its own loop, or after stop")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            if future.done():  # the coroutine's own TimeoutError, not the wait's
                raise
            future.cancel()
            raise TimeoutError(f"gave up after {timeout:.1f}s") from None

    def stop(self) -> None:
        """Stop the loop, wait for its thread, and close it. Pending tasks are abandoned."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()
