"""The fetch pool: at most ``concurrency`` at once, the next refused at once, a slot held until its
work ends (even when whoever waited has gone), and free again afterwards."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from mediasift.net.errors import FetchBusy
from mediasift.net.pool import RETRY_AFTER_S, FetchPool


def test_a_full_pool_refuses_at_once_and_frees_its_slots_when_work_ends() -> None:
    pool = FetchPool(2)
    release = threading.Event()
    try:
        held = [pool.submit(release.wait, 10) for _ in range(2)]
        started = time.monotonic()
        with pytest.raises(FetchBusy, match=r"too many downloads in progress \(2") as busy:
            pool.submit(time.sleep, 0)
        assert time.monotonic() - started < 0.1
        assert busy.value.status == 429 and busy.value.retry_after_s == RETRY_AFTER_S
        release.set()
        assert [future.result(timeout=5) for future in held] == [True, True]
        time.sleep(0.05)  # the done callbacks have run by now
        assert [pool.submit(pow, 2, n).result(timeout=5) for n in range(4)] == [1, 2, 4, 8]
    finally:
        release.set()
        pool.close()


def test_an_awaited_fetch_keeps_its_slot_until_it_ends_even_when_cancelled() -> None:
    pool = FetchPool(1)
    release = threading.Event()

    async def scenario() -> None:
        waiting = asyncio.ensure_future(pool.run(release.wait, 10))
        await asyncio.sleep(0.05)
        waiting.cancel()  # the client went away; the thread cannot be stopped
        with pytest.raises(asyncio.CancelledError):
            await waiting
        with pytest.raises(FetchBusy):
            await pool.run(time.sleep, 0)
        release.set()
        await asyncio.sleep(0.05)
        assert await pool.run(pow, 3, 2) == 9

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        pool.close()
