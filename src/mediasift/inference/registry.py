"""What a model is (:class:`ModelSpec`), and the process's loaded runtimes.

A spec is built from ``Settings`` by the catalog (:mod:`mediasift.inference.catalog`): its id and
version are those of the model that runs under those settings, so lineage names exactly that model.
A spec's ``load`` builds the runtime; the runtime itself is shared by every door of the process whose
settings load the same thing (same id, version and ``load_key``), so two ``Mediasift`` objects in
one process load a model once. A handle loads its runtime once under a lock, times the load, and
drops it again after it has been idle (:class:`IdleUnloader`), so a worker that stopped seeing video
does not keep the video models in memory. A caller still holding a dropped runtime keeps a working
object: dropping only releases the pool's reference.

:meth:`ModelSpec.check` looks for a model's files without loading anything, so a missing weight
package is reported when a worker starts rather than at its first job.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mediasift.inference import stats
from mediasift.models import ModelRef
from mediasift.models.weights import ModelWeightsMissing


class Runtime(StrEnum):
    ONNXRUNTIME = "onnxruntime"
    CTRANSLATE2 = "ctranslate2"
    LITERT = "litert"
    NCNN = "ncnn"
    NATIVE = "native"  # compiled into its Python package (YuNet, lingua)
    STATIC = "static-embeddings"
    PROCESS = "subprocess"  # an external program (tesseract)
    REMOTE_HTTP = "remote-http"
    ROUTER = "router"  # picks one of other models per input


@dataclass(frozen=True)
class ModelSpec:
    """What a model is. ``files`` returns its weight files (raising ``ModelWeightsMissing`` when one
    is absent) without loading anything; ``load`` builds the ready-to-call runtime. ``load_key``
    names what else (besides id and version) the runtime is built with, such as its threads: specs
    that agree on all three share one loaded runtime.

    ``cost_per_item_usd`` is the nominal price of one input, for listings; what calls actually cost
    is measured as they run (see :mod:`mediasift.inference.stats`).
    """

    id: str
    version: str
    task: str
    input_kind: str
    runtime: Runtime
    output: str
    files: Callable[[], Sequence[Path]]
    load: Callable[[], Any]
    load_key: tuple[Any, ...] = ()
    batches: bool = False
    batch_size: int = 1
    threads: int = 0
    memory_mb: int = 0
    cost_per_item_usd: float = 0.0
    optional: bool = False

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.id, self.version)

    def problem(self) -> str | None:
        """Why this model's files cannot be found (with the fix), or None when they are there."""
        try:
            self.files()
        except (ModelWeightsMissing, OSError) as exc:
            return str(exc)
        return None


class ModelHandle:
    """One model's runtime in this process, loaded on first use."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._runtime: Any = None
        self.load_seconds: float | None = None
        self.loads = 0
        self.last_used = 0.0

    @property
    def loaded(self) -> bool:
        return self._runtime is not None

    def get(self) -> Any:
        """The loaded runtime, loading it first if needed (once, however many threads ask)."""
        self.last_used = time.monotonic()
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is None:
                started = time.perf_counter()
                self._runtime = self.spec.load()
                self.load_seconds = time.perf_counter() - started
                self.loads += 1
                stats.record(self.spec.ref, "loads")
                stats.record(self.spec.ref, "load_seconds", self.load_seconds)
                # What a model loads lives as long as the model: frozen, the cyclic collector stops
                # walking it. Not frozen, a full collection in an API process with the query embedder
                # loaded paused a search for 65 ms every few hundred searches (the 1M-segment bench's
                # p99); a worker's models make the heap several times larger still. gc.freeze() itself
                # costs nothing; cyclic garbage alive at that instant is kept until an unload.
                gc.freeze()
            return self._runtime

    def unload(self) -> bool:
        """Drop the loaded runtime; True when there was one."""
        with self._lock:
            was_loaded = self._runtime is not None
            self._runtime = None
        if was_loaded:
            # What the model held (and any cycles frozen with it) can be collected again; so can the
            # other models' objects, until the next load freezes everything again.
            gc.unfreeze()
        return was_loaded


class RuntimePool:
    """Every model handle of the process, one per (id, version, load key)."""

    def __init__(self) -> None:
        self._handles: dict[tuple[str, str, tuple[Any, ...]], ModelHandle] = {}
        self._lock = threading.Lock()

    def handle(self, spec: ModelSpec) -> ModelHandle:
        """The handle that loads ``spec``'s runtime, shared with every equal spec."""
        key = (spec.id, spec.version, spec.load_key)
        with self._lock:
            handle = self._handles.get(key)
            if handle is None:
                handle = self._handles[key] = ModelHandle(spec)
            return handle

    def handles(self) -> list[ModelHandle]:
        with self._lock:
            return list(self._handles.values())

    def unload(self, ref: ModelRef) -> None:
        """Drop every loaded runtime of that model (id and version), whatever it was loaded with."""
        for handle in self.handles():
            if handle.spec.ref == ref:
                handle.unload()

    def unload_idle(self, idle_s: float) -> list[str]:
        """Unload every runtime unused for ``idle_s`` seconds; the ids of those unloaded."""
        now = time.monotonic()
        return [h.spec.id for h in self.handles() if h.loaded and now - h.last_used >= idle_s and h.unload()]


pool = RuntimePool()


class IdleUnloader:
    """A daemon thread that unloads runtimes idle for ``idle_s`` seconds, checking every ``every_s``."""

    def __init__(self, runtimes: RuntimePool, idle_s: float, every_s: float = 30.0) -> None:
        self.runtimes = runtimes
        self.idle_s = idle_s
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="model-unloader", daemon=True)

    def start(self) -> IdleUnloader:
        if self.idle_s > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.runtimes.unload_idle(self.idle_s)
