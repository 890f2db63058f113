"""ONNX models written as protobuf bytes directly: the few message fields a plain inference graph uses.

The ``onnx`` package would do this through its ``helper``, but importing it costs about 0.8 s of CPU
(its ``ml_dtypes`` dependency) on every model load, for nothing ONNX Runtime needs. The field numbers
are those of ``onnx.proto``, which keeps them stable across versions; tests check what is written here
against the ``onnx`` package's own parser and checker.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Attribute = int | float | str | Sequence[int]

_VARINT, _FIXED32, _BYTES = 0, 5, 2
_DATA_TYPES = {np.dtype(np.float32): 1, np.dtype(np.int64): 7}  # TensorProto.DataType FLOAT, INT64
_FLOAT, _INT, _STRING, _INTS = 1, 2, 3, 7  # AttributeProto.AttributeType


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as two's complement, ten bytes
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3 | _VARINT) + _varint(value)


def _bytes(field: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(field << 3 | _BYTES) + _varint(len(data)) + data


def tensor(name: str, array: npt.NDArray[np.generic]) -> bytes:
    """A TensorProto (float32 or int64) holding ``array`` as little-endian raw data."""
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    dims = b"".join(_int(1, size) for size in data.shape)
    return dims + _int(2, _DATA_TYPES[data.dtype]) + _bytes(8, name) + _bytes(9, data.tobytes())


def _attribute(name: str, value: Attribute) -> bytes:
    if isinstance(value, float):
        return _bytes(1, name) + _varint(2 << 3 | _FIXED32) + struct.pack("<f", value) + _int(20, _FLOAT)
    if isinstance(value, int):
        return _bytes(1, name) + _int(3, value) + _int(20, _INT)
    if isinstance(value, str):
        return _bytes(1, name) + _bytes(4, value) + _int(20, _STRING)
    return _bytes(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _INTS)


def node(op: str, inputs: Sequence[str], outputs: Sequence[str], **attributes: Attribute) -> bytes:
    """A NodeProto of the default domain."""
    fields = [_bytes(1, name) for name in inputs] + [_bytes(2, name) for name in outputs] + [_bytes(4, op)]
    fields += [_bytes(5, _attribute(key, value)) for key, value in attributes.items()]
    return b"".join(fields)


def float_value(name: str, shape: Sequence[int | str]) -> bytes:
    """A ValueInfoProto: a float tensor of ``shape`` (a str is a named, free dimension)."""
    dims = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, _DATA_TYPES[np.dtype(np.float32)]) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(
    nodes: Sequence[bytes],
    initializers: Sequence[bytes],
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    opset: int,
    ir_version: int = 8,
) -> bytes:
    """A ModelProto of one graph (nodes in topological order) on the default opset ``opset``."""
    graph = b"".join(
        [_bytes(1, n) for n in nodes]
        + [_bytes(2, "main")]
        + [_bytes(5, t) for t in initializers]
        + [_bytes(11, v) for v in inputs]
        + [_bytes(12, v) for v in outputs]
    )
    return _int(1, ir_version) + _bytes(7, graph) + _bytes(8, _int(2, opset))


class Graph:
    """The nodes (in topological order) and initializers of a graph being written, each value it names
    numbered: what :func:`model` takes."""

    def __init__(self) -> None:
        self.nodes: list[bytes] = []
        self.initializers: list[bytes] = []
        self.count = 0

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def constant(self, array: npt.NDArray[np.generic]) -> str:
        """An initializer holding ``array``; its name."""
        name = self._name("const")
        self.initializers.append(tensor(name, array))
        return name

    def op(self, op: str, inputs: Sequence[str], output: str | None = None, **attributes: Attribute) -> str:
        """A node of ``op`` over ``inputs``; the name of its one output (``output`` where given)."""
        output = output or self._name(op.lower())
        self.nodes.append(node(op, inputs, [output], **attributes))
        return output
