"""Why a request or a URL is refused, with the HTTP status that fits."""

from __future__ import annotations


class Unacceptable(ValueError):
    """What was sent or pointed at cannot be taken; the message says why, for a person.
    ``status`` is the HTTP status that fits (413 too large, 422 otherwise)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class FetchBusy(Unacceptable):
    """Every thread of the fetch pool is taken: try again after ``retry_after_s`` seconds (429)."""

    def __init__(self, concurrency: int, retry_after_s: int) -> None:
        super().__init__(
            f"too many downloads in progress ({concurrency}, MEDIASIFT_URL_FETCH_CONCURRENCY): "
            f"try again in {retry_after_s} s",
            status=429,
        )
        self.retry_after_s = retry_after_s


def too_large(limit: int) -> Unacceptable:
    return Unacceptable(f"larger than the limit of {limit:,} bytes (MEDIASIFT_MAX_FILE_BYTES)", status=413)
