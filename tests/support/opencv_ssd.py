"""The object detector as it ran before it moved to ONNX Runtime: OpenCV DNN running the package's
TensorFlow graph whole (its DetectionOutput included), the reference the ONNX Runtime detector is
compared with (tests/models/test_object_detector.py, bench/objects.py)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.models.object_detector import COCO_LABELS, INPUT_SIZE, Detection, weight_files

Rgb = npt.NDArray[np.uint8]


def opencv_net() -> cv2.dnn.Net:
    graph, config = weight_files()
    return cv2.dnn.readNetFromTensorflow(str(graph), str(config))


def blob(image: Rgb) -> npt.NDArray[np.float32]:
    size = (INPUT_SIZE, INPUT_SIZE)
    return np.asarray(cv2.dnn.blobFromImage(image, 1.0, size, (0, 0, 0), swapRB=False, crop=False))


def opencv_detect(net: cv2.dnn.Net, image: Rgb, floor: float) -> list[Detection]:
    """The detections at ``floor`` or above, most confident first, in the image's pixels."""
    height, width = image.shape[:2]
    net.setInput(blob(image))
    found = []
    for _, class_id, confidence, x0, y0, x1, y1 in np.asarray(net.forward()).reshape(-1, 7).tolist():
        if int(class_id) not in COCO_LABELS or confidence < floor:
            continue
        left, top = max(math.floor(x0 * width), 0), max(math.floor(y0 * height), 0)
        right, bottom = min(math.ceil(x1 * width), width), min(math.ceil(y1 * height), height)
        if right > left and bottom > top:
            found.append(Detection(COCO_LABELS[int(class_id)], confidence, (left, top, right - left, bottom - top)))
    return sorted(found, key=lambda d: -d.confidence)
