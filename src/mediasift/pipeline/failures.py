"""What a failed operator's exception means for its job: the classifier the worker runtime is given.

Corrupt or unsupported input is permanent (the decoders' own errors included: a retry cannot read
it either); a timeout is its own class; anything else is transient and retried until its attempts
run out (then it is ``exhausted``).
"""

from __future__ import annotations

from mediasift.errors import PermanentError
from mediasift.jobs.model import ErrorClass


def _permanent_types() -> tuple[type[BaseException], ...]:
    # Imported on the first failure, not with the pipeline: the decoders are heavy.
    import av
    from PIL import UnidentifiedImageError

    from mediasift.media.audio import NoAudioStream

    return (PermanentError, av.error.InvalidDataError, UnidentifiedImageError, UnicodeDecodeError, NoAudioStream)


def classify(exc: BaseException) -> ErrorClass:
    if isinstance(exc, _permanent_types()):
        return ErrorClass.PERMANENT
    if isinstance(exc, TimeoutError):
        return ErrorClass.TIMEOUT
    return ErrorClass.TRANSIENT


def about_input(exc: BaseException) -> bool:
    """Whether ``exc`` says the input itself is bad (any model would fail on it the same way)."""
    return classify(exc) is ErrorClass.PERMANENT
