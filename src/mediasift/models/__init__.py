"""Model runtimes: each is built from ``Settings`` by its loader and runs a batch. Weights ship inside
installed packages and are located, never downloaded. Nothing here caches, batches across callers or
counts: that is the inference layer's (:mod:`mediasift.inference`), the only way in."""

from mediasift.records import ModelRef

__all__ = ["ModelRef"]
