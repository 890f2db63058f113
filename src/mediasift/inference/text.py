"""Text embeddings as the pipeline and search ask for them: the configured tier, each text's
vector cached by content, and concurrent jobs' texts embedded together by one micro-batcher per
model."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mediasift.config import Settings
from mediasift.inference.batcher import MicroBatcher
from mediasift.inference.cache import cached_map, input_hash
from mediasift.inference.registry import ModelHandle
from mediasift.models import ModelRef

TIERS = ("minilm", "wordllama")

# One batcher per model and batching settings: a process that meets other settings gets its own.
_batchers: dict[tuple[str, int, float, float], MicroBatcher[str, Any]] = {}
_lock = threading.Lock()


def text_model(settings: Settings) -> ModelHandle:
    """The text-embedding model that ``settings`` picks."""
    if settings.text_embedding_tier == "wordllama":
        from mediasift.models.static_embedder import HANDLE as static

        return static
    if settings.text_embedding_tier != "minilm":
        raise ValueError(f"MEDIASIFT_TEXT_EMBEDDING_TIER must be one of {', '.join(TIERS)}, "
                         f"not {settings.text_embedding_tier!r}")  # fmt: skip
    from mediasift.models.text_embedder import HANDLE as minilm

    return minilm


def text_model_ref(settings: Settings) -> ModelRef:
    return text_model(settings).spec.ref


def batcher_for(handle: ModelHandle, settings: Settings) -> MicroBatcher[str, Any]:
    """The process's micro-batcher for ``handle``'s model with these batching settings."""
    key = (handle.spec.id, settings.batch_max_size, settings.batch_wait_ms, settings.interactive_batch_wait_ms)
    with _lock:
        batcher = _batchers.get(key)
        if batcher is None:
            batcher = _batchers[key] = MicroBatcher(
                handle.spec.ref,
                lambda texts: list(handle.get().embed(texts, batch_size=settings.batch_max_size)),
                max_batch=settings.batch_max_size,
                wait_s=settings.batch_wait_ms / 1000,
                interactive_wait_s=settings.interactive_batch_wait_ms / 1000,
            )
        return batcher


def embed_texts(texts: Sequence[str], settings: Settings) -> npt.NDArray[np.float32]:
    """Unit vectors of ``texts`` from the configured tier, (n, dim), rows in input order."""
    handle = text_model(settings)
    vectors = cached_map(handle.spec.ref, list(texts), input_hash, batcher_for(handle, settings).run)
    if not vectors:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack(vectors).astype(np.float32, copy=False)
