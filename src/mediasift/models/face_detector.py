"""Faces with boxes and five landmarks: YuNet (libfacedetection), compiled into the ``yuface`` wheel."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef
from mediasift.models.openmp import openmp_thread_setter
from mediasift.models.pictures import shrunk
from mediasift.models.weights import LazyModel, as_rgb_uint8, package_dir

# The detector's anchors are sized for faces up to a few hundred pixels: on larger pictures a big face
# is found late and spurious ones appear (an astronaut portrait upscaled to 1920 px gave two false faces
# at 0.82 and 0.70). Pictures are shrunk to MAX_SIDE first: 640, the size YuNet is trained at
# (libfacedetection's 640x640 crops). On bench/photos.py's 66 photos of 1600 px it finds the same 6
# faces at 0.8 or more as at 960 (boxes within a few pixels), 12 rather than 16 at 0.5 or more (the
# four lost were all under 0.8), at 0.06 s of CPU a photo rather than 0.135.
MAX_SIDE = 640

# libfacedetection's C++ entry point (the symbol as its library exports it) and the size its results
# buffer must have (its header's DETECT_BUFFER_SIZE; the yuface extension allocates the same).
ENTRY_POINT = "_Z14facedetect_cnnPhS_iii"  # int *facedetect_cnn(uchar *result, uchar *bgr, int w, int h, int step)
RESULT_BUFFER_BYTES = 0x9000
ROW_VALUES = 16  # a face's row of int16: score, x, y, w, h, ten landmark coordinates, one unused

LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")
"""The order of the five landmarks; "right" is the person's right, the left one in the picture."""

Point = tuple[int, int]


@dataclass(frozen=True)
class Face:
    confidence: float  # 0-1 (the detector scores in whole percent)
    box: tuple[int, int, int, int]  # x, y, w, h in input pixels, clipped to the picture
    landmarks: tuple[Point, ...]  # 5 points in LANDMARK_NAMES order, input pixels (may lie off-picture)


class FaceDetector(LazyModel[Callable[[npt.NDArray[np.uint8]], npt.NDArray[Any]]]):
    """YuNet: the ``yuface`` wheel's libfacedetection, called through ctypes.

    The wheel's Python extension calls the library without releasing the GIL: every other thread of
    the process (the other jobs' Python, their database work) stood still for the 50 ms a photo takes
    (py-spy --gil over bench/photos.py: the face detector held the GIL for 30 % of the time anyone did).
    ctypes releases it for the call. The library's entry point (``ENTRY_POINT``) fills a results
    buffer: the number of faces, then one row of ``ROW_VALUES`` signed 16-bit values per face, score in
    whole percent, x, y, w, h, ten landmark coordinates, one unused. Faces cut by the picture's edge
    have negative coordinates. It wants BGR pixels. Calls are serialised: the library sets up its
    weights in static storage on first use.

    The library runs its layers on OpenMP threads (the wheel's own libgomp), as many as there are
    cores unless told otherwise; ``threads`` caps them, per call (an OpenMP thread count belongs to the
    calling thread). With more threads than free cores its spinning threads wait on each other: on two
    cores shared with another job a 960-pixel picture took 410 ms with two threads and 120 ms with one.
    """

    ref = ModelRef("yunet-libfacedetection", f"yuface==2023.5.1;max_side={MAX_SIDE}")

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        self.threads = threads
        self._call_lock = threading.Lock()
        self._set_threads: Callable[[int], Any] = lambda _: None

    def _load(self) -> Callable[[npt.NDArray[np.uint8]], npt.NDArray[Any]]:
        folder = package_dir("yuface")
        library = ctypes.CDLL(str(sorted(folder.glob("libfacedetection.so*"))[0]))
        entry = getattr(library, ENTRY_POINT)
        entry.restype = ctypes.POINTER(ctypes.c_int)
        entry.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._set_threads = openmp_thread_setter(folder.parent / "yuface.libs")

        def detect(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
            height, width = bgr.shape[:2]
            results = ctypes.create_string_buffer(RESULT_BUFFER_BYTES)
            found = entry(results, bgr.ctypes.data, width, height, bgr.strides[0])  # points at ``results``
            if not found:
                raise RuntimeError("libfacedetection could not allocate its working memory")
            count = found[0]
            rows = np.frombuffer(memoryview(results), dtype=np.int16, count=count * ROW_VALUES, offset=4)
            return rows.reshape(count, ROW_VALUES).copy()

        return detect

    def detect(self, image: npt.NDArray[np.uint8], min_confidence: float = 0.5) -> list[Face]:
        """Faces in an RGB uint8 picture at or above ``min_confidence``, most confident first."""
        detect = self._runtime.get()
        rgb = as_rgb_uint8(image)
        height, width = rgb.shape[:2]
        scale = min(1.0, MAX_SIDE / max(height, width))
        bgr = np.ascontiguousarray(shrunk(rgb, MAX_SIDE)[:, :, ::-1])  # the OCR gate's copy: the same size
        with self._call_lock:
            self._set_threads(self.threads)
            rows = detect(bgr).astype(np.float64)
        faces: list[Face] = []
        for row in rows:
            confidence = float(row[0]) / 100.0
            if confidence < min_confidence:
                continue
            x, y, w, h = (row[1:5] / scale).tolist()
            left, top = min(max(round(x), 0), width), min(max(round(y), 0), height)
            right, bottom = min(max(round(x + w), 0), width), min(max(round(y + h), 0), height)
            if right <= left or bottom <= top:
                continue
            points = (row[5:15] / scale).reshape(5, 2)
            landmarks = tuple((round(px), round(py)) for px, py in points.tolist())
            faces.append(Face(confidence, (left, top, right - left, bottom - top), landmarks))
        faces.sort(key=lambda face: -face.confidence)
        return faces

    def __call__(self, images: Sequence[npt.NDArray[np.uint8]], min_confidence: float) -> list[list[Face]]:
        """:meth:`detect` on each picture."""
        return [self.detect(image, min_confidence) for image in images]


def weight_files() -> list[Path]:
    return [package_dir("yuface")]


def load(settings: Settings) -> FaceDetector:
    return FaceDetector(threads=settings.model_threads).load()
