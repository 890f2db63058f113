"""Model results reused for identical inputs, keyed by (model id, model version, input hash).

Two levels: a bounded in-process LRU, then the ``inference_cache`` table shared by every process
using the database. The cache works inside :func:`using_database`, which the pipeline opens around
every operator run with its database; outside such a block every call runs its model. A repeated keyframe, the same
text chunk in two documents or the same image under another name then costs one inference.

Lookups are batched: one query for all the inputs of a call.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import psycopg

from mediasift.inference import codec, stats
from mediasift.models import ModelRef

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
R = TypeVar("R")
D = TypeVar("D", bound="DataclassInstance")

MEMORY_ITEMS = 4096

_database_url: contextvars.ContextVar[str | None] = contextvars.ContextVar("mediasift_cache_db", default=None)
# Off unless a block turns it on: the pipeline does, per job. Outside it (benchmarks, evaluations,
# direct model calls) every call runs its model, so what is measured is the model.
_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("mediasift_cache_enabled", default=False)


def input_hash(*parts: bytes | str | np.ndarray) -> bytes:
    """A digest of a model input; arrays count with their dtype and shape."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.data)
        elif isinstance(part, str):
            digest.update(part.encode())
        else:
            digest.update(part)
        digest.update(b"\x00")
    return digest.digest()


@contextlib.contextmanager
def using_database(url: str | None, enabled: bool = True) -> Iterator[None]:
    """Inside the block results are cached, in memory and, when ``url`` is given, in that database;
    ``enabled=False`` keeps the cache off (every call runs its model)."""
    url_token = _database_url.set(url)
    enabled_token = _enabled.set(enabled)
    try:
        yield
    finally:
        _database_url.reset(url_token)
        _enabled.reset(enabled_token)


def cache_enabled() -> bool:
    """Whether results may be reused in this context (see :func:`using_database`)."""
    return _enabled.get()


class InferenceCache:
    def __init__(self, memory_items: int = MEMORY_ITEMS) -> None:
        self.memory_items = memory_items
        self._memory: OrderedDict[tuple[str, str, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()

    def get_many(self, model: ModelRef, keys: Sequence[bytes]) -> dict[bytes, Any]:
        found: dict[bytes, bytes] = {}
        with self._lock:
            for key in keys:
                entry = self._memory.get((model.id, model.version, key))
                if entry is not None:
                    self._memory.move_to_end((model.id, model.version, key))
                    found[key] = entry
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        url = _database_url.get()
        if missing and url:
            rows = self._execute(
                url,
                "UPDATE inference_cache SET hits = hits + 1, used_at = now()"
                " WHERE model_id = %s AND model_version = %s AND input_hash = ANY(%s)"
                " RETURNING input_hash, value",
                (model.id, model.version, missing),
            )
            for key, value in rows:
                found[bytes(key)] = bytes(value)
                self._remember(model, bytes(key), bytes(value))
        return {key: codec.decode(value) for key, value in found.items()}

    def put_many(self, model: ModelRef, values: dict[bytes, Any]) -> None:
        encoded = {key: codec.encode(value) for key, value in values.items()}
        for key, value in encoded.items():
            self._remember(model, key, value)
        url = _database_url.get()
        if encoded and url:
            self._execute(
                url,
                "INSERT INTO inference_cache (model_id, model_version, input_hash, value)"
                " SELECT %s, %s, k, v FROM unnest(%s::bytea[], %s::bytea[]) AS t(k, v)"
                " ON CONFLICT DO NOTHING",
                (model.id, model.version, list(encoded), list(encoded.values())),
            )

    def _remember(self, model: ModelRef, key: bytes, value: bytes) -> None:
        with self._lock:
            self._memory[(model.id, model.version, key)] = value
            self._memory.move_to_end((model.id, model.version, key))
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)

    def _execute(self, url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Run one autocommit statement on this thread's connection to ``url`` (kept open: a cache
        lookup must not cost a new connection)."""
        connections: dict[str, psycopg.Connection[Any]] = self._local.__dict__.setdefault("connections", {})
        conn = connections.get(url)
        if conn is None or conn.closed:
            conn = connections[url] = psycopg.connect(url, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
        except psycopg.OperationalError:
            connections.pop(url, None)
            raise


cache = InferenceCache()


def cached_map(
    model: ModelRef,
    inputs: Sequence[T],
    key: Callable[[T], bytes],
    compute: Callable[[list[T]], Sequence[R]],
) -> list[R]:
    """``compute(inputs)`` in input order, running the model only on inputs not seen before (an input
    repeated within ``inputs`` is computed once). Hits and misses are counted on ``model``."""
    if not inputs:
        return []
    if not cache_enabled():
        return list(compute(list(inputs)))
    keys = [key(item) for item in inputs]
    known = cache.get_many(model, keys)
    todo: dict[bytes, T] = {}
    for k, item in zip(keys, inputs, strict=True):
        if k not in known and k not in todo:
            todo[k] = item
    stats.record_cache(model, hits=len(inputs) - len(todo), misses=len(todo))
    if todo:
        fresh = compute(list(todo.values()))
        computed = dict(zip(todo, fresh, strict=True))
        cache.put_many(model, computed)
        known.update(computed)
    return [known[k] for k in keys]


def cached_records(model: ModelRef, key: bytes, compute: Callable[[], Sequence[D]], record: type[D]) -> list[D]:
    """:func:`cached_call` for a model that answers with a list of dataclass records (stored as
    their fields)."""
    found = cached_call(model, key, lambda: [dataclasses.asdict(r) for r in compute()])
    return [record(**fields) for fields in found]


def cached_call(model: ModelRef, key: bytes, compute: Callable[[], R]) -> R:
    """One input's result, computed (timed and counted as a call of ``model``) only on a miss."""
    return cached_map(model, [key], lambda k: k, lambda _: [stats.timed(model, compute)])[0]
