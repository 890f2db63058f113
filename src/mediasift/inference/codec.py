"""Model results as bytes for the cache: JSON for the structure, numpy's own format for arrays.

Never pickle: the cache is shared through the database, and unpickling what another process wrote
would run whatever it contains.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import numpy as np

_ARRAY = "__ndarray__"
_TUPLE = "__tuple__"


def encode(value: Any) -> bytes:
    arrays: list[np.ndarray] = []

    def walk(item: Any) -> Any:
        if isinstance(item, np.ndarray):
            arrays.append(item)
            return {_ARRAY: len(arrays) - 1}
        if isinstance(item, np.generic):
            return item.item()
        if isinstance(item, tuple):
            return {_TUPLE: [walk(x) for x in item]}
        if isinstance(item, list):
            return [walk(x) for x in item]
        if isinstance(item, dict):
            return {str(k): walk(v) for k, v in item.items()}
        return item

    structure = json.dumps(walk(value), separators=(",", ":")).encode()
    packed = io.BytesIO()
    if arrays:
        np.savez(packed, *arrays)
    return struct.pack(">I", len(structure)) + structure + packed.getvalue()


def decode(data: bytes) -> Any:
    (length,) = struct.unpack(">I", data[:4])
    structure = json.loads(data[4 : 4 + length])
    rest = data[4 + length :]
    arrays: list[np.ndarray] = []
    if rest:
        with np.load(io.BytesIO(rest), allow_pickle=False) as archive:
            arrays = [archive[f"arr_{i}"] for i in range(len(archive.files))]

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            if _ARRAY in item and len(item) == 1:
                return arrays[item[_ARRAY]]
            if _TUPLE in item and len(item) == 1:
                return tuple(walk(x) for x in item[_TUPLE])
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(x) for x in item]
        return item

    return walk(structure)
