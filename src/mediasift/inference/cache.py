"""Model results reused for identical inputs, keyed by (model id, model version, input hash).

Two levels: a bounded in-process LRU, then a shared table (``db/inference_cache.py``) that every
process using the database reads and writes. A repeated keyframe, the same text chunk in two
documents or the same image under another name then costs one inference. Lookups are batched: one
query for all the inputs of a call. Values are stored as JSON plus numpy's format, never pickled
(:mod:`mediasift.inference.codec`).

A shared entry records the asset whose analysis stored it, so that deleting the asset deletes the
results derived from its content. The asset is named once, where its operator runs
(``Inference.job(asset=...)``), and reaches the cache through a context variable (:func:`analysing`)
rather than through every typed call of the door; like the job's cost, it follows the caller's
context into the threads the door starts (the fallback chain copies it).

A search query's vector is kept in this process's memory only (:func:`unshared`): a query is no
asset's content, so a stored copy would outlive every deletion, and the shared table's read
and committed write (~5 ms measured under ``bench/search.py``) cost about what embedding the query
again does.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar
from uuid import UUID

import numpy as np

from mediasift.inference import codec, stats
from mediasift.models import ModelRef
from mediasift.models.pictures import DERIVED

T = TypeVar("T")
R = TypeVar("R")

MEMORY_ITEMS = 4096


class SharedStore(Protocol):
    """Where results outlive the process: :class:`mediasift.db.inference_cache.InferenceCacheTable`."""

    def get_many(self, model_id: str, model_version: str, keys: Sequence[bytes]) -> dict[bytes, bytes]: ...

    def put_many(
        self, model_id: str, model_version: str, values: dict[bytes, bytes], asset_id: UUID | None = None
    ) -> None: ...


_asset: contextvars.ContextVar[UUID | None] = contextvars.ContextVar("mediasift_cache_asset", default=None)
_unshared: contextvars.ContextVar[bool] = contextvars.ContextVar("mediasift_cache_unshared", default=False)


@contextlib.contextmanager
def unshared() -> Iterator[None]:
    """Inside the block, results are looked up and kept in this process's memory only."""
    token = _unshared.set(True)
    try:
        yield
    finally:
        _unshared.reset(token)


@contextlib.contextmanager
def analysing(asset_id: UUID | None) -> Iterator[None]:
    """Inside the block, results stored in the shared cache are recorded as made from ``asset_id``."""
    token = _asset.set(asset_id)
    try:
        yield
    finally:
        _asset.reset(token)


def input_hash(*parts: bytes | str | np.ndarray) -> bytes:
    """A digest of a model input; arrays count with their dtype and shape."""
    digest = hashlib.sha256()
    for index, part in enumerate(parts):
        if isinstance(part, np.ndarray):
            if index == 0:  # a picture's digest, asked for by each model that looks at it: hashed once
                digest = DERIVED.get(part, "sha256", partial(_state_after, part)).copy()
            else:
                _update(digest, part)
        elif isinstance(part, str):
            digest.update(part.encode())
        else:
            digest.update(part)
        digest.update(b"\x00")
    return digest.digest()


def _update(digest: Any, part: np.ndarray) -> None:
    array = np.ascontiguousarray(part)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.data)


def _state_after(array: np.ndarray) -> Any:
    digest = hashlib.sha256()
    _update(digest, array)
    return digest


class ResultCache:
    """The LRU in front of an optional shared store; thread-safe."""

    def __init__(self, store: SharedStore | None, memory_items: int = MEMORY_ITEMS) -> None:
        self.store = store
        self.memory_items = memory_items
        self._memory: OrderedDict[tuple[str, str, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, model: ModelRef, keys: Sequence[bytes]) -> dict[bytes, Any]:
        found: dict[bytes, bytes] = {}
        with self._lock:
            for key in keys:
                entry = self._memory.get((model.id, model.version, key))
                if entry is not None:
                    self._memory.move_to_end((model.id, model.version, key))
                    found[key] = entry
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing and self.store is not None and not _unshared.get():
            for key, value in self.store.get_many(model.id, model.version, missing).items():
                found[key] = value
                self._remember(model, key, value)
        return {key: codec.decode(value) for key, value in found.items()}

    def put_many(self, model: ModelRef, values: dict[bytes, Any]) -> None:
        encoded = {key: codec.encode(value) for key, value in values.items()}
        for key, value in encoded.items():
            self._remember(model, key, value)
        if encoded and self.store is not None and not _unshared.get():
            self.store.put_many(model.id, model.version, encoded, _asset.get())

    def _remember(self, model: ModelRef, key: bytes, value: bytes) -> None:
        with self._lock:
            self._memory[(model.id, model.version, key)] = value
            self._memory.move_to_end((model.id, model.version, key))
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)

    def map(
        self,
        model: ModelRef,
        inputs: Sequence[T],
        key: Callable[[T], bytes],
        compute: Callable[[list[T]], Sequence[R]],
    ) -> list[R]:
        """``compute(inputs)`` in input order, running the model only on inputs not seen before (an
        input repeated within ``inputs`` is computed once). Hits and misses are counted on ``model``."""
        if not inputs:
            return []
        keys = [key(item) for item in inputs]
        known = self.get_many(model, keys)
        todo: dict[bytes, T] = {}
        for k, item in zip(keys, inputs, strict=True):
            if k not in known and k not in todo:
                todo[k] = item
        stats.record_cache(model, hits=len(inputs) - len(todo), misses=len(todo))
        if todo:
            fresh = compute(list(todo.values()))
            computed = dict(zip(todo, fresh, strict=True))
            self.put_many(model, computed)
            known.update(computed)
        return [known[k] for k in keys]
