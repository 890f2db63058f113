"""Requests per minute and tokens per minute for one remote endpoint, shared by every thread.

Two token buckets, each refilled continuously at its per-minute rate and holding at most one
second's worth. Providers enforce "per minute" limits over much shorter windows (a burst of a whole
minute's requests at once is refused even when the minute's total is allowed), so the limiter
spreads calls evenly instead of letting a minute's worth out at once.

A call's tokens are not known until it returns, so it is admitted on an estimate
(:func:`estimate_tokens`) and the bucket is corrected by :meth:`RateLimiter.settle` once the
response reports its usage. A call larger than the bucket waits for a full bucket and then leaves
it in debt, which later calls wait out: the average rate holds for any call size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CHARS_PER_TOKEN = 4  # English text averages about four characters per token
IMAGE_TOKENS = 800  # an image at high detail, about 1024 px a side (OpenAI counts 765)


def estimate_tokens(texts: list[str], images: int = 0, max_output_tokens: int = 0) -> int:
    """What a call will count against the tokens-per-minute limit before it is made: its text,
    its images, and the most it may answer (providers reserve ``max_tokens`` up front)."""
    return sum(len(t) for t in texts) // CHARS_PER_TOKEN + 1 + images * IMAGE_TOKENS + max_output_tokens


class _Bucket:
    def __init__(self, per_minute: float, now: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_s(self, amount: float) -> float:
        """Seconds until ``amount`` (at most a full bucket) is available."""
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate


class RateLimiter:
    """Blocks callers until both limits allow their call; a limit of 0 means none."""

    def __init__(
        self,
        requests_per_minute: float,
        tokens_per_minute: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        now = clock()
        self._requests = _Bucket(requests_per_minute, now) if requests_per_minute > 0 else None
        self._tokens = _Bucket(tokens_per_minute, now) if tokens_per_minute > 0 else None
        self._cond = threading.Condition()

    def acquire(self, tokens: int) -> float:
        """Wait (sleeping, never spinning) until one request of about ``tokens`` tokens is allowed,
        then take it. Returns the seconds waited."""
        started = self._clock()
        with self._cond:
            while True:
                now = self._clock()
                wait = 0.0
                for bucket, amount in ((self._requests, 1.0), (self._tokens, float(tokens))):
                    if bucket is not None:
                        bucket.refill(now)
                        wait = max(wait, bucket.wait_s(amount))
                if wait <= 0.0:
                    if self._requests is not None:
                        self._requests.level -= 1.0
                    if self._tokens is not None:
                        self._tokens.level -= tokens
                    return now - started
                self._cond.wait(wait)

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the tokens taken on an estimate with what the call really used."""
        if self._tokens is None or estimated == actual:
            return
        with self._cond:
            self._tokens.refill(self._clock())
            self._tokens.level = min(self._tokens.capacity, self._tokens.level + estimated - actual)
            self._cond.notify_all()
