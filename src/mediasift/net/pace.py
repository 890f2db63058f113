"""How long a fetch may take and how slowly it may go: one deadline for the whole fetch (redirects
included) and a minimum rate over a sliding window after a grace period. A timeout between bytes
alone lets a server that sends one byte a second hold a thread for days; these do not."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from mediasift.config import Settings
from mediasift.net.errors import Unacceptable

# How often a silent connection wakes up to judge its deadline and rate, in seconds at most.
CHECK_EVERY_S = 1.0


@dataclass
class Pace:
    deadline_s: float
    min_bytes_per_s: float = 0.0  # 0: no minimum rate
    grace_s: float = 0.0
    window_s: float = 5.0
    started: float = field(default_factory=time.monotonic)
    received: int = 0
    # (when, bytes received by then): the last sample at or before the window's start, and those after
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._samples.append((self.started, 0))

    @classmethod
    def of(cls, settings: Settings) -> Pace:
        """The pace of a download under ``settings``."""
        return cls(
            deadline_s=settings.url_fetch_deadline_s,
            min_bytes_per_s=settings.url_fetch_min_bytes_per_s,
            grace_s=settings.url_fetch_rate_grace_s,
            window_s=settings.url_fetch_rate_window_s,
        )

    def left(self, timeout: float | None) -> float:
        """``timeout`` cut to the time left before the deadline; past it, :class:`Unacceptable`."""
        left = self.started + self.deadline_s - time.monotonic()
        if left <= 0:
            raise Unacceptable(f"the fetch took longer than {self.deadline_s:g} s (MEDIASIFT_URL_FETCH_DEADLINE_S)")
        return left if timeout is None else min(timeout, left)

    def next_wait(self, timeout: float | None) -> float:
        """How long the next read may wait before the deadline and rate are judged again."""
        wait = min(self.left(timeout), CHECK_EVERY_S)
        self.judge()
        return wait

    def got(self, count: int) -> None:
        """``count`` more bytes arrived."""
        self.received += count
        if self.min_bytes_per_s:
            now = time.monotonic()
            self._samples.append((now, self.received))
            self.judge(now)

    def judge(self, now: float | None = None) -> None:
        """Past the grace period (and one whole window), fewer bytes in the last window than the
        minimum rate asks for is :class:`Unacceptable`."""
        now = time.monotonic() if now is None else now
        if not self.min_bytes_per_s or now - self.started < max(self.grace_s, self.window_s):
            return
        since = now - self.window_s
        while len(self._samples) > 1 and self._samples[1][0] <= since:
            self._samples.popleft()
        in_window = self.received - self._samples[0][1]
        if in_window < self.min_bytes_per_s * self.window_s:
            raise Unacceptable(
                f"the server sent {in_window:,} bytes in the last {self.window_s:g} s, slower than the "
                f"minimum of {self.min_bytes_per_s:,g} bytes/s (MEDIASIFT_URL_FETCH_MIN_BYTES_PER_S)"
            )
