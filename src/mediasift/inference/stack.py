"""The one call stack every model call goes down (:meth:`CallStack.call`):

    result cache  ->  micro-batcher (models that gather concurrent jobs' inputs)  ->  counted call
    of the runtime (calls, items, seconds, cost, errors)

Which runtime serves a role is the catalog's word for the settings; the runtime comes from the
process's pool (:mod:`mediasift.inference.registry`), loaded on first use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

import numpy as np
import numpy.typing as npt

from mediasift import telemetry
from mediasift.config import Settings, calls_at_once
from mediasift.inference import stats
from mediasift.inference.batcher import MicroBatcher, interactive_lane
from mediasift.inference.cache import ResultCache, SharedStore, analysing
from mediasift.inference.catalog import Catalog, ModelSpec, Role
from mediasift.inference.registry import ModelHandle, Runtime, pool

T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass
class JobScope:
    """The cost of the model calls made inside :meth:`Inference.job`."""

    usd: float = 0.0


class CallStack:
    """The models of one ``Settings``, each reached through the same stack. Thread-safe."""

    def __init__(self, settings: Settings, store: SharedStore | None = None) -> None:
        self.settings = settings
        self.catalog = Catalog(settings)
        self.cache = ResultCache(store) if settings.inference_cache else None
        self._batchers: dict[Role, MicroBatcher[Any, Any]] = {}
        self._lock = threading.Lock()

    def handle(self, role: Role) -> ModelHandle:
        """The process's handle on the runtime that serves ``role`` under these settings."""
        return pool.handle(self.catalog.runtime_spec(role))

    def call(
        self,
        role: Role,
        items: Sequence[T],
        *,
        run: Callable[[Any, list[T]], Sequence[R]] | None = None,
        key: Callable[[T], bytes] | None = None,
        stored: Callable[[R], Any] | None = None,
        restored: Callable[[Any], R] | None = None,
        gather: bool = False,
    ) -> list[R]:
        """The results of the model of ``role`` for ``items``, in order.

        ``run(runtime, batch)`` makes the model call (default: ``runtime(batch)``). With ``key``, each
        item's result is looked up in the cache first and only the misses run; ``stored`` and
        ``restored`` turn a result into what the cache keeps (JSON-like values and arrays) and back.
        With ``gather``, the misses wait briefly for other jobs' items and run with them in one call.
        """
        spec = self.catalog.spec(role)
        with telemetry.model_call(spec.ref.id, spec.ref.version, len(items)):
            return self._call(spec, role, items, run, key, stored, restored, gather)

    def _call(
        self,
        spec: ModelSpec,
        role: Role,
        items: Sequence[T],
        run: Callable[[Any, list[T]], Sequence[R]] | None,
        key: Callable[[T], bytes] | None,
        stored: Callable[[R], Any] | None,
        restored: Callable[[Any], R] | None,
        gather: bool,
    ) -> list[R]:
        call = run or _call_runtime

        def compute(batch: list[T]) -> Sequence[R]:
            if gather:
                return self._batcher(role, call).run(batch)
            return self.counted(role, lambda runtime: call(runtime, batch), len(batch))

        if key is None or self.cache is None:
            return list(compute(list(items)))
        to_cache = stored or _same
        found = self.cache.map(spec.ref, items, key, lambda batch: [to_cache(r) for r in compute(batch)])
        return [restored(value) for value in found] if restored else found

    def counted(
        self, role: Role, call: Callable[[Any], R], items: int, excluded: Callable[[], float] | None = None
    ) -> R:
        """``call(runtime)``, counted as one call of ``role``'s model on ``items`` inputs, its cost
        charged to the running job. ``excluded()`` is time inside it that was not the model's (the
        decoding of a stream the model reads)."""
        spec = self.catalog.spec(role)
        with telemetry.model_call(spec.ref.id, spec.ref.version, items):
            return self._counted(spec, role, call, items, excluded)

    def _counted(
        self, spec: ModelSpec, role: Role, call: Callable[[Any], R], items: int, excluded: Callable[[], float] | None
    ) -> R:
        runtime = self.handle(role).get()
        started = time.perf_counter()
        try:
            result = call(runtime)
        except Exception:
            stats.record_error(spec.ref)
            raise
        seconds = time.perf_counter() - started - (excluded() if excluded else 0.0)
        stats.record_call(spec.ref, items, seconds, stats.compute_cost(seconds, self.settings.compute_usd_per_hour))
        return result

    def _batcher(self, role: Role, call: Callable[[Any, list[Any]], Sequence[Any]]) -> MicroBatcher[Any, Any]:
        with self._lock:
            batcher = self._batchers.get(role)
            if batcher is None:
                s = self.settings
                handle = self.handle(role)
                runtime = self.catalog.runtime_spec(role)
                # ONNX Runtime sessions run concurrent calls, each on the session's threads.
                lanes = calls_at_once(runtime.threads) if runtime.runtime is Runtime.ONNXRUNTIME else 1
                batcher = self._batchers[role] = MicroBatcher(
                    self.catalog.ref(role),
                    lambda batch: call(handle.get(), batch),
                    max_batch=s.batch_max_size,
                    wait_s=s.batch_wait_ms / 1000,
                    interactive_wait_s=s.interactive_batch_wait_ms / 1000,
                    usd_per_hour=s.compute_usd_per_hour,
                    lanes=lanes,
                )
            return batcher

    def stream(self, role: Role, chunks: Iterable[npt.NDArray[np.float32]]) -> Any:
        """A model that reads a whole file as a stream of chunks, counted without the decoding."""
        clocked = _Clocked(chunks)
        results = self.counted(role, lambda runtime: runtime([clocked]), 1, clocked.seconds)
        return results[0]

    def record(self, role: Role, counter: str, value: float = 1.0) -> None:
        """Add ``value`` to a counter of the model of ``role`` (what a caller counts about its use)."""
        stats.record(self.catalog.ref(role), counter, value)

    @contextlib.contextmanager
    def job(self, *, interactive: bool = False, asset: UUID | None = None) -> Iterator[JobScope]:
        """Inside the block, model requests wait the interactive (short) or batch time for company, the
        cost of every call made is added up in the scope yielded, and results cached are recorded as
        made from ``asset`` (so that deleting it deletes them)."""
        scope = JobScope()
        with interactive_lane(interactive), analysing(asset), stats.job_cost() as cost:
            try:
                yield scope
            finally:
                scope.usd = cost.usd


class _Clocked(Iterable[T]):
    """An iterable that adds up the time spent producing its items (decoding, for a stream)."""

    def __init__(self, items: Iterable[T]) -> None:
        self._items = items
        self.spent = 0.0

    def __iter__(self) -> Iterator[T]:
        source = iter(self._items)
        while True:
            started = time.perf_counter()
            try:
                item = next(source)
            except StopIteration:
                self.spent += time.perf_counter() - started
                return
            self.spent += time.perf_counter() - started
            yield item

    def seconds(self) -> float:
        return self.spent


def _call_runtime(runtime: Any, batch: list[Any]) -> Sequence[Any]:
    return runtime(batch)


def _same(value: Any) -> Any:
    return value
