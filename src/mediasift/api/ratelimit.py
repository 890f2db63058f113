"""Requests per key, as token buckets in this process: a burst of ``burst`` at once, then
``per_minute`` a minute. A request past it learns how long to wait (``Retry-After``)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

MAX_TRACKED_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RequestLimiter:
    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request of ``key``: 0 when it may go now, else the seconds until it may."""
        return self._spend(key, 1.0)

    def wait(self, key: str) -> float:
        """The seconds until ``key`` may go again, spending nothing (0 when it may go now)."""
        return self._spend(key, 0.0)

    def _spend(self, key: str, cost: float) -> float:
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED_KEYS:
                    self._buckets.clear()  # a full bucket for everyone: the limit errs towards letting through
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= cost
                return 0.0
            return (1.0 - bucket.tokens) / self.rate
