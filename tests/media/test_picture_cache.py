"""The decoded pictures the image operators of one process share."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mediasift.media.picture_cache import PictureCache


def picture(value: int, side: int = 10) -> np.ndarray:
    return np.full((side, side, 3), value, dtype=np.uint8)


def test_a_picture_is_decoded_once_and_shared_read_only() -> None:
    cache = PictureCache()
    calls: list[str] = []

    def decode() -> np.ndarray:
        calls.append("decoded")
        return picture(7)

    first = cache.get(("sha", 2560), decode)
    second = cache.get(("sha", 2560), decode)
    assert second is first and calls == ["decoded"]
    assert (cache.hits, cache.misses) == (1, 1)
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0, 0] = 1


def test_concurrent_askers_wait_for_one_decode() -> None:
    cache = PictureCache()
    calls: list[int] = []

    def slow() -> np.ndarray:
        calls.append(1)
        time.sleep(0.2)
        return picture(3)

    got: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("k", slow))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(got) == 4 and all(item is got[0] for item in got)


def test_a_failed_decode_is_not_kept_and_reaches_every_asker() -> None:
    cache = PictureCache()

    def broken() -> np.ndarray:
        raise OSError("truncated")

    with pytest.raises(OSError, match="truncated"):
        cache.get("k", broken)
    assert cache.get("k", lambda: picture(1))[0, 0, 0] == 1


def test_least_recently_used_pictures_go_beyond_the_budget() -> None:
    one = picture(0).nbytes
    cache = PictureCache(budget_bytes=2 * one)
    cache.get("a", lambda: picture(1))
    cache.get("b", lambda: picture(2))
    cache.get("a", lambda: picture(9))  # a is now the most recently used
    cache.get("c", lambda: picture(3))  # over the budget: b goes
    assert len(cache) == 2
    assert cache.get("a", lambda: picture(9))[0, 0, 0] == 1
    assert cache.get("b", lambda: picture(5))[0, 0, 0] == 5  # decoded again


def test_a_picture_over_the_whole_budget_is_returned_but_not_kept() -> None:
    cache = PictureCache(budget_bytes=picture(0).nbytes - 1)
    assert cache.get("a", lambda: picture(4))[0, 0, 0] == 4
    assert len(cache) == 0
