"""The two kinds of error that say whether trying again can help. Which other exceptions count as
which is the pipeline's to say (:mod:`mediasift.pipeline.failures`)."""

from __future__ import annotations


class PermanentError(Exception):
    """The input itself is the problem (corrupt, unsupported): retrying cannot help."""


class TransientError(Exception):
    """A dependency is unavailable or slow (a model server, the network): a retry may succeed."""
