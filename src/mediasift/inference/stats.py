"""Counters of what the models did in this process: calls, items, seconds, cost, cache hits and
misses, routing and fallback decisions.

Counters are kept per (model id, model version, counter name) and added up in memory; the pipeline
moves them into the database (``inference_counters``) after each job, so ``mediasift models list``
and the metrics report every process's work. The cost of the calls made while a job runs is also
added to that job (:func:`job_cost`), which becomes the operator run's ``cost``.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from mediasift.models import ModelRef

Key = tuple[str, str, str]  # model id, model version, counter


@dataclass
class _JobCost:
    usd: float = 0.0


_job_cost: contextvars.ContextVar[_JobCost | None] = contextvars.ContextVar("mediasift_job_cost", default=None)
_lock = threading.Lock()
_totals: dict[Key, float] = {}
_unflushed: dict[Key, float] = {}


def compute_cost(seconds: float, usd_per_hour: float) -> float:
    """The cost in USD of ``seconds`` of local model compute at ``usd_per_hour``."""
    return seconds * usd_per_hour / 3600.0


def record(model: ModelRef, counter: str, value: float = 1.0) -> None:
    """Add ``value`` to one counter of ``model``."""
    key = (model.id, model.version, counter)
    with _lock:
        _totals[key] = _totals.get(key, 0.0) + value
        _unflushed[key] = _unflushed.get(key, 0.0) + value


def record_call(model: ModelRef, items: int, seconds: float, cost_usd: float) -> float:
    """Count one call of ``model`` on ``items`` inputs that took ``seconds`` and cost ``cost_usd``,
    and charge that cost to the running job. Returns the cost."""
    record(model, "calls")
    record(model, "items", items)
    record(model, "seconds", seconds)
    record(model, "cost_usd", cost_usd)
    charge(cost_usd)
    return cost_usd


def record_error(model: ModelRef) -> None:
    record(model, "errors")


def record_cache(model: ModelRef, hits: int, misses: int) -> None:
    if hits:
        record(model, "cache_hits", hits)
    if misses:
        record(model, "cache_misses", misses)


def record_route(router: ModelRef, chosen: ModelRef, escalated: bool) -> None:
    """A router picked ``chosen``; ``escalated`` when that is not its cheapest tier."""
    record(router, "decisions")
    record(router, f"route:{chosen.id}")
    if escalated:
        record(router, "escalated")


def record_fallback(chain: ModelRef, failed: ModelRef, used: ModelRef) -> None:
    """A fallback chain moved from ``failed`` to ``used``."""
    record(chain, "fallbacks")
    record(chain, f"fallback:{failed.id}->{used.id}")


def charge(usd: float) -> None:
    """Add ``usd`` to the job running in this context, if any."""
    current = _job_cost.get()
    if current is not None:
        current.usd += usd


@contextlib.contextmanager
def job_cost() -> Iterator[_JobCost]:
    """Collect the cost of the model calls made inside the block (in this thread or context)."""
    cost = _JobCost()
    token = _job_cost.set(cost)
    try:
        yield cost
    finally:
        _job_cost.reset(token)


def totals() -> dict[Key, float]:
    """Everything counted in this process since it started."""
    with _lock:
        return dict(_totals)


def count(model: ModelRef, counter: str) -> float:
    with _lock:
        return _totals.get((model.id, model.version, counter), 0.0)


def take_unflushed() -> dict[Key, float]:
    """The counts not yet written to the database, handed over (and forgotten here)."""
    with _lock:
        pending = dict(_unflushed)
        _unflushed.clear()
        return pending


def give_back(pending: dict[Key, float]) -> None:
    """Counts whose write failed, kept for the next flush."""
    with _lock:
        for key, value in pending.items():
            _unflushed[key] = _unflushed.get(key, 0.0) + value
