"""Circuit breakers, one per dependency (a model, a remote service).

After ``threshold`` transient failures in a row the breaker opens: jobs that need the dependency
are paused (released for later without spending an attempt) instead of being burned through their
attempts into the dead-letter queue. The failure that opens it, and a failed probe, are charged to
the dependency too: that job is paused, not counted. After ``cooldown_s`` one probe job is let through
(half-open); its success closes the breaker, its failure opens it again. (A job that fails every time
it is the probe is most likely failing on its own input: the worker gives up on it, see the runtime.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


class CircuitBreakers:
    def __init__(self, threshold: int = 5, cooldown_s: float = 30.0) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def allow(self, dependency: str) -> float:
        """0 when a job needing ``dependency`` may run now, else the seconds until it may."""
        with self._lock:
            state = self._states.get(dependency)
            if state is None or state.opened_at is None:
                return 0.0
            wait = state.opened_at + self.cooldown_s - time.monotonic()
            if wait > 0:
                return wait
            if state.probing:
                return self.cooldown_s / 4
            state.probing = True
            return 0.0

    def probing(self, dependency: str) -> bool:
        """Whether a probe job for ``dependency`` is out (the breaker is half-open)."""
        with self._lock:
            state = self._states.get(dependency)
            return state is not None and state.probing

    def succeeded(self, dependency: str) -> None:
        with self._lock:
            self._states.pop(dependency, None)

    def failed(self, dependency: str) -> bool:
        """Count a transient failure; return whether the breaker is open now (the failure is then
        the dependency's, not the job's)."""
        with self._lock:
            state = self._states.setdefault(dependency, _State())
            state.failures += 1
            if state.probing or state.failures >= self.threshold:
                state.opened_at = time.monotonic()
                state.probing = False
            return state.opened_at is not None

    def open_ones(self) -> dict[str, float]:
        """Open breakers and the seconds until each lets a probe through."""
        now = time.monotonic()
        with self._lock:
            return {
                dep: max(0.0, s.opened_at + self.cooldown_s - now)
                for dep, s in self._states.items()
                if s.opened_at is not None
            }
