"""Decoded pictures shared by the jobs of one process: every image operator (labels, objects, faces,
OCR, the perceptual hash, the thumbnail) looks at the same picture of an asset, usually at about the
same time (the jobs of one asset are queued together), so one decodes it and the others take the
decoded pixels.

Entries are keyed by what the pixels are made from (a blob's digest and how it was decoded), are
read-only (an operator that wrote to one would change what the others see) and are dropped, least
recently used first, beyond a budget of bytes. A picture asked for while another thread decodes it
waits for that decode instead of doing it again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future

import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]

# A 1600x1200 photo decodes to 5.8 MB and a 720p keyframe to 2.8 MB: this holds the pictures of the
# assets a worker's few concurrent jobs look at, with room for operators that drift apart on a video's
# keyframes.
DEFAULT_BUDGET_BYTES = 192 * 1024**2


class PictureCache:
    """A thread-safe, size-bounded LRU of decoded pictures."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, Pixels] = OrderedDict()
        self._pending: dict[Hashable, Future[Pixels]] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, decode: Callable[[], Pixels]) -> Pixels:
        """The pixels stored under ``key``, made by ``decode`` (once, whoever asks) when absent."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
            pending = self._pending.get(key)
            if pending is None:
                mine: Future[Pixels] = Future()
                self._pending[key] = mine
                self.misses += 1
        if pending is not None:
            return pending.result()
        try:
            pixels = decode()
            pixels.setflags(write=False)
        except BaseException as exc:
            with self._lock:
                del self._pending[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            del self._pending[key]
            self._store(key, pixels)
        mine.set_result(pixels)
        return pixels

    def _store(self, key: Hashable, pixels: Pixels) -> None:
        if pixels.nbytes > self.budget_bytes:
            return
        self._entries[key] = pixels
        self._bytes += pixels.nbytes
        while self._bytes > self.budget_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.nbytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
