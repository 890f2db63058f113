"""The decoded pictures the image operators of one process share."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediasift.config import Settings
from mediasift.inference.door import Inference
from mediasift.media.picture_cache import PictureCache
from mediasift.mediatype import MediaType
from mediasift.operators.images import iter_images

from support import mediagen
from support.contexts import memory_context


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


def test_the_image_operators_of_an_asset_share_one_decoded_picture(tmp_path: Path) -> None:
    door = Inference(Settings(home=tmp_path / "home", inference_cache=False))
    path = tmp_path / "photo.jpg"
    Image.fromarray(mediagen.photo("coffee")).save(path)
    other = tmp_path / "other.png"
    Image.fromarray(picture(200, 32)).save(other)
    first = [item.pixels for item in iter_images(memory_context(door, path, MediaType.IMAGE))]
    again = [item.pixels for item in iter_images(memory_context(door, path, MediaType.IMAGE))]
    assert again[0] is first[0] and not first[0].flags.writeable
    # another file under the same (here, missing) digest is not mistaken for it
    (elsewhere,) = [item.pixels for item in iter_images(memory_context(door, other, MediaType.IMAGE))]
    assert elsewhere.shape == (32, 32, 3) and elsewhere[0, 0, 0] == 200
