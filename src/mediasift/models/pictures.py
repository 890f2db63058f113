"""What is made from a picture again and again, made once while the picture lives.

Every image operator of an asset is handed the same decoded picture (:mod:`mediasift.media.picture_cache`
keeps one read-only copy per process), and several make the same thing of it: the faces detector and
the OCR reader's text gate both shrink it to 640 pixels a side (6 ms each for a 1600x1200 photo on the
2-core development machine), and the inference layer hashes it for each model's cache key (2.8 ms
each, four times). :data:`DERIVED` keeps such values per picture, keyed by the picture itself (its
identity: a weak reference, so the values go with it), for pictures that cannot change: read-only
views all the way down to ``bytes``, as a decoded picture is. Any other array is worked on afresh.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

T = TypeVar("T")


def immutable(array: np.ndarray) -> bool:
    """Whether no one can change the array's values: read-only views all the way down to ``bytes``.
    An array that owns its memory can be made writeable again, so it does not count."""
    base: Any = array
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return isinstance(base, bytes)


class PerPicture:
    """Values made from immutable pictures, each kept while its picture lives; thread-safe."""

    def __init__(self) -> None:
        self._values: dict[int, tuple[weakref.ref[np.ndarray], dict[Hashable, Any]]] = {}
        self._lock = threading.RLock()  # a weak reference's callback may run inside a locked block (a collection)

    def get(self, picture: np.ndarray, key: Hashable, make: Callable[[], T]) -> T:
        """The value ``key`` of ``picture``, made by ``make`` where not made before (or where the
        picture is not immutable: then it is not kept). Two threads asking at once may both make it."""
        if not immutable(picture):
            return make()
        ident = id(picture)
        with self._lock:
            entry = self._values.get(ident)
            if entry is not None and entry[0]() is picture and key in entry[1]:
                value: T = entry[1][key]
                return value
        value = make()
        with self._lock:
            entry = self._values.get(ident)
            if entry is None or entry[0]() is not picture:
                entry = (weakref.ref(picture, partial(self._forget, ident)), {})
                self._values[ident] = entry
            entry[1][key] = value
        return value

    def _forget(self, ident: int, _: object = None) -> None:
        with self._lock:
            entry = self._values.get(ident)
            if entry is not None and entry[0]() is None:
                del self._values[ident]

    def __len__(self) -> int:
        """How many pictures have values kept."""
        with self._lock:
            return len(self._values)


DERIVED = PerPicture()


def shrunk(rgb: npt.NDArray[np.uint8], side: int) -> npt.NDArray[np.uint8]:
    """The picture shrunk (``INTER_AREA``) so that its longer side is ``side`` pixels, each side
    rounded; the picture itself where it is not larger. Made once per immutable picture and size;
    read-only."""
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1.0:
        return rgb

    def make() -> npt.NDArray[np.uint8]:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        small.setflags(write=False)
        return small

    return DERIVED.get(rgb, ("shrunk", side), make)
