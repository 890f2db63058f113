"""YuNet called through ctypes (models/face_detector.py) against the yuface wheel's own extension: the
same faces, and the other threads of the process keep running while it detects."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mediasift.models.face_detector import MAX_SIDE, FaceDetector
from mediasift.models.pictures import shrunk

from support import mediagen

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(threads=1).load()


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(shrunk(rgb, MAX_SIDE)[:, :, ::-1])


def test_the_rows_are_the_wheels_own(detector: FaceDetector) -> None:
    from yuface.yuface import detect as extension

    native = detector._runtime.get()
    pictures = [skimage_data.astronaut(), skimage_data.coffee(), mediagen.photo("chelsea"), skimage_data.camera()]
    rows = 0
    for rgb in pictures:
        if rgb.ndim == 2:
            rgb = np.stack([rgb] * 3, axis=-1)
        bgr = _bgr(rgb)
        expected = np.asarray(extension(bgr)).reshape(-1, 16)
        found = native(bgr)
        # the last column is unused: the extension leaves whatever its fresh buffer held there
        np.testing.assert_array_equal(found[:, :15], expected[:, :15])
        rows += len(found)
    assert rows >= 2  # the comparison is not vacuous (the astronaut's face, and low-score candidates)


def test_other_threads_run_while_it_detects(detector: FaceDetector) -> None:
    """A thread counting in Python beside the detector is stalled (no step for 5 ms or more) for a
    small part of the detections' time; with the GIL held through each call it was stalled for all of it."""
    picture = np.ascontiguousarray(np.tile(skimage_data.astronaut(), (2, 2, 1)))  # 1024 px: about 50 ms a call
    detector.detect(picture)  # warm
    steps: list[float] = []
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            steps.append(time.perf_counter())

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.05)
    started = time.perf_counter()
    for _ in range(10):
        detector.detect(picture)
    ended = time.perf_counter()
    done.set()
    counter.join()
    inside = np.array([t for t in steps if started <= t <= ended])
    gaps = np.diff(np.concatenate([[started], inside, [ended]]))
    stalled = gaps[gaps >= 0.005].sum() / (ended - started)
    assert stalled < 0.3, f"the counting thread was stalled {stalled:.0%} of the detections' time"
