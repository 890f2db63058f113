"""The OpenMP runtime a wheel bundles, reached to cap its threads per call.

Native libraries built with OpenMP (YuNet's, the multilingual-e5 engine's) start one thread per core
in each parallel region unless told otherwise, and spin while they wait; two such calls side by side
on two cores then slow each other several-fold. ``omp_set_num_threads`` caps the calling thread's
regions, so a model calls it before each call, under its own lock.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any


def openmp_thread_setter(libs: Path) -> Callable[[int], Any]:
    """``omp_set_num_threads`` of the OpenMP runtime a wheel bundles in ``libs`` (already loaded by its
    extension, so this finds the same library); a no-op where the wheel bundles none."""
    for path in sorted(libs.glob("libgomp*.so*")):
        setter: Callable[[int], Any] = ctypes.CDLL(str(path)).omp_set_num_threads
        return setter
    return lambda _: None
