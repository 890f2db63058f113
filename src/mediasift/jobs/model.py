"""What flows through a broker: jobs, their deliveries, failures and dead letters."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class Lane(StrEnum):
    """Interactive work (a single upload) is served ahead of batch work (a backfill)."""

    INTERACTIVE = "interactive"
    BATCH = "batch"


class ErrorClass(StrEnum):
    PERMANENT = "permanent"  # the input is the problem: straight to the dead-letter queue
    TRANSIENT = "transient"  # may work next time: retried with backoff
    TIMEOUT = "timeout"  # ran past its time limit: cancelled, retried
    EXHAUSTED = "exhausted"  # transient failures used up every attempt


Limits = tuple[int, float]  # a job's max_attempts and timeout_s, as a redrive sets them


@dataclass(frozen=True)
class Job:
    """A small, addressable unit of work. ``id`` is its identity: publishing the same id again while
    it is queued is a duplicate the broker may drop. ``group`` names what the job exercises (an
    operator), for per-group counts and circuit breakers."""

    id: str
    kind: str
    lane: Lane = Lane.BATCH
    group: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 5
    timeout_s: float = 600.0
    attempts_before: int = 0  # attempts spent before this message was (re)published

    def limited(self, limits: Limits | None) -> Job:
        """This job at attempt 0, with ``limits`` (max_attempts, timeout_s) when given."""
        if limits is None:
            return replace(self, attempts_before=0)
        return replace(self, attempts_before=0, max_attempts=limits[0], timeout_s=limits[1])

    def to_json(self) -> str:
        # vars() rather than dataclasses.asdict: same output (Lane is a str), a quarter of the cost.
        return json.dumps(vars(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Job:
        data = json.loads(text)
        data["lane"] = Lane(data["lane"])
        return cls(**data)


@dataclass
class Delivery:
    """A job handed to a consumer, held under a lease until acked, released, or buried.

    ``attempt`` counts this delivery: 1 the first time, and crashes and lease expiries count.
    ``handle`` is the backend's own receipt (a stream id, a NATS message, a lease token)."""

    job: Job
    attempt: int
    handle: Any = None


@dataclass(frozen=True)
class Failure:
    error_class: ErrorClass
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class DeadLetter:
    job: Job
    attempts: int
    error_class: str
    message: str
    traceback: str
    failed_at: datetime


@dataclass
class QueueStats:
    """Counts a person (and Prometheus) can see. ``ready`` is per lane; ``delayed`` are waiting for
    a retry time; ``in_flight`` are held by consumers; ``dead`` are in the dead-letter queue."""

    ready: dict[str, int] = field(default_factory=dict)
    delayed: int = 0
    in_flight: int = 0
    dead: int = 0

    @property
    def depth(self) -> int:
        return sum(self.ready.values()) + self.delayed
