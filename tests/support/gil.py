"""Whether a call lets the process's other threads run: a thread counting in Python beside it, and the
share of the call's time in which that thread made no step for 5 ms or more (the GIL held)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np


def stalled(work: Callable[[], object]) -> float:
    """The share of ``work``'s time in which a thread counting in Python beside it was stalled."""
    steps: list[float] = []
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            steps.append(time.perf_counter())

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.05)
    started = time.perf_counter()
    work()
    ended = time.perf_counter()
    done.set()
    counter.join()
    inside = np.array([t for t in steps if started <= t <= ended])
    gaps = np.diff(np.concatenate([[started], inside, [ended]]))
    return float(gaps[gaps >= 0.005].sum() / (ended - started))
