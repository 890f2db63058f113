"""Errors that say whether trying again can help, and the classification of everything else."""

from __future__ import annotations

from mediasift.jobs.model import ErrorClass


class PermanentError(Exception):
    """The input itself is the problem (corrupt, unsupported): retrying cannot help."""


class TransientError(Exception):
    """A dependency is unavailable or slow (a model server, the network): a retry may succeed."""


def _permanent_types() -> tuple[type[BaseException], ...]:
    import av
    from PIL import UnidentifiedImageError

    from mediasift.media.audio import NoAudioStream

    return (PermanentError, av.error.InvalidDataError, UnidentifiedImageError, UnicodeDecodeError, NoAudioStream)


def classify(exc: BaseException) -> ErrorClass:
    """Corrupt or unsupported input is permanent; timeouts are their own class; anything else is
    treated as transient and retried until its attempts run out (then it is ``exhausted``)."""
    if isinstance(exc, _permanent_types()):
        return ErrorClass.PERMANENT
    if isinstance(exc, TimeoutError):
        return ErrorClass.TIMEOUT
    return ErrorClass.TRANSIENT
