"""Every model declared once, with what it is, what runs it, what it costs, and its state.

A model module declares its model at import (``HANDLE = registry.declare(ModelSpec(...))``) and
hands out the loaded model through the handle. The handle loads the model once per process under a
lock, times the load, and drops it again after it has been idle for a while
(:meth:`ModelRegistry.unload_idle`), so a worker that stopped seeing video does not keep the video
models in memory. Callers that still hold an unloaded model keep a working object: dropping only
releases the registry's reference.

:func:`ModelRegistry.check` looks for every declared model's files without loading any, so a missing
weight package is reported when a worker starts rather than at its first job.
"""

from __future__ import annotations

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
    OPENCV_DNN = "opencv-dnn"
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
    is absent) without loading anything; ``load`` builds the ready-to-call model.

    ``cost_per_item_usd`` is the nominal price of one input, for listings and routing; what calls
    actually cost is measured as they run (see :mod:`mediasift.inference.stats`).
    """

    id: str
    version: str
    task: str
    input_kind: str
    runtime: Runtime
    output: str
    files: Callable[[], Sequence[Path]]
    load: Callable[[], Any]
    batches: bool = False
    batch_size: int = 1
    threads: int = 0
    memory_mb: int = 0
    cost_per_item_usd: float = 0.0
    optional: bool = False

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.id, self.version)


class ModelHandle:
    """One declared model and, once loaded, the model itself."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._model: Any = None
        self.load_seconds: float | None = None
        self.loads = 0
        self.last_used = 0.0

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def get(self) -> Any:
        """The loaded model, loading it first if needed (once, however many threads ask)."""
        self.last_used = time.monotonic()
        model = self._model
        if model is not None:
            return model
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = self.spec.load()
                self.load_seconds = time.perf_counter() - started
                self.loads += 1
                stats.record(self.spec.ref, "loads")
                stats.record(self.spec.ref, "load_seconds", self.load_seconds)
            return self._model

    def unload(self) -> bool:
        """Drop the loaded model; True when there was one."""
        with self._lock:
            was_loaded = self._model is not None
            self._model = None
            return was_loaded


class ModelRegistry:
    def __init__(self) -> None:
        self._handles: dict[str, ModelHandle] = {}
        self._lock = threading.Lock()

    def declare(self, spec: ModelSpec) -> ModelHandle:
        """Add ``spec``; a spec with the id of an existing one replaces it (and drops its model)."""
        with self._lock:
            handle = ModelHandle(spec)
            self._handles[spec.id] = handle
            return handle

    def handle(self, model_id: str) -> ModelHandle:
        try:
            return self._handles[model_id]
        except KeyError:
            raise KeyError(f"no model {model_id!r} is declared") from None

    def handles(self) -> list[ModelHandle]:
        with self._lock:
            return list(self._handles.values())

    def check(self) -> dict[str, str]:
        """Models whose files are missing, each with the reason and how to fix it."""
        problems: dict[str, str] = {}
        for handle in self.handles():
            try:
                handle.spec.files()
            except (ModelWeightsMissing, OSError) as exc:
                problems[handle.spec.id] = str(exc)
        return problems

    def unload_idle(self, idle_s: float) -> list[str]:
        """Unload every model unused for ``idle_s`` seconds; the ids of those unloaded."""
        now = time.monotonic()
        return [h.spec.id for h in self.handles() if h.loaded and now - h.last_used >= idle_s and h.unload()]


registry = ModelRegistry()


class IdleUnloader:
    """A daemon thread that unloads models idle for ``idle_s`` seconds, checking every ``every_s``."""

    def __init__(self, models: ModelRegistry, idle_s: float, every_s: float = 30.0) -> None:
        self.models = models
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
            self.models.unload_idle(self.idle_s)
