"""A fallback chain: the first tier that is allowed and answers in time gives the result.

Each tier is a model (its ``ModelRef``) and a callable. A call goes to the first tier whose circuit
breaker lets it through; a tier that raises, or has not answered after ``timeout_s``, is charged a
failure on its breaker and the next tier is tried. While a tier's breaker is open the tier is
skipped without being called, so a dead primary costs nothing; after the cooldown one call probes
it (half-open) and its success closes the breaker again. When no tier answers, the chain raises
:class:`~mediasift.errors.TransientError` naming what happened to each tier.

Timeouts: every tier call runs in a thread of its own, and the chain stops waiting for it after
``timeout_s``. A Python thread cannot be killed, so a hung call keeps running (and keeps whatever it
holds, such as a model's call lock) until it returns by itself; the chain does not wait for it, and
since every call gets a new thread a hung call never delays a later one. A tier that hangs for
good holds one thread per call it hung on, at most ``threshold`` of them plus one per probe, because
its breaker opens and stops sending it calls. Tiers that can really be stopped should enforce a
timeout of their own (the tesseract tier kills its process).

Errors that say the input itself is bad (:func:`mediasift.errors.classify` calls them permanent)
end the call at once: another model would see the same input, and the tier is not at fault, so no
breaker is charged.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mediasift.errors import TransientError
from mediasift.inference import stats
from mediasift.jobs.breaker import CircuitBreakers
from mediasift.jobs.model import ErrorClass
from mediasift.models import ModelRef
from mediasift.pipeline.failures import classify

T = TypeVar("T")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """What the chain returns: the value, the tier that gave it, and why the tiers before it did not."""

    value: T
    used: ModelRef
    passed_over: tuple[str, ...] = ()  # "model-id: reason" for every tier tried or skipped first

    @property
    def fell_back(self) -> bool:
        return bool(self.passed_over)


class FallbackChain(Generic[T]):
    """``chain(*args)`` calls the tiers in order, as described in the module docstring.

    The tiers' breakers live in ``breakers`` keyed by model id; pass one ``CircuitBreakers`` per
    chain, since the job runtime's own breakers are keyed by model id too and guard whole jobs.
    """

    def __init__(
        self,
        ref: ModelRef,
        tiers: Sequence[tuple[ModelRef, Callable[..., T]]],
        timeout_s: float,
        breakers: CircuitBreakers,
    ) -> None:
        if not tiers:
            raise ValueError("a fallback chain needs at least one tier")
        self.ref = ref
        self.tiers = list(tiers)
        self.timeout_s = timeout_s
        self.breakers = breakers

    def __call__(self, *args: Any, **kwargs: Any) -> Answer[T]:
        passed_over: list[str] = []
        first_missed: ModelRef | None = None
        for tier_ref, call in self.tiers:
            wait_s = self.breakers.allow(tier_ref.id)
            if wait_s > 0:
                stats.record(tier_ref, "breaker_skips")
                passed_over.append(f"{tier_ref.id}: circuit open, next probe in {wait_s:.1f} s")
                first_missed = first_missed or tier_ref
                continue
            try:
                value = self._call_in_time(tier_ref, call, args, kwargs)
            except Exception as exc:
                if classify(exc) is ErrorClass.PERMANENT:
                    self.breakers.succeeded(tier_ref.id)  # it answered, about the input: not its failure
                    raise
                self.breakers.failed(tier_ref.id)
                stats.record_error(tier_ref)
                passed_over.append(f"{tier_ref.id}: {type(exc).__name__}: {exc}")
                first_missed = first_missed or tier_ref
                continue
            self.breakers.succeeded(tier_ref.id)
            stats.record(self.ref, f"answered:{tier_ref.id}")
            if first_missed is not None:
                stats.record_fallback(self.ref, first_missed, tier_ref)
            return Answer(value, tier_ref, tuple(passed_over))
        stats.record(self.ref, "exhausted")
        raise TransientError(f"no tier of {self.ref.id} answered: " + "; ".join(passed_over))

    def _call_in_time(
        self, tier_ref: ModelRef, call: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        """``call(*args, **kwargs)`` in a new daemon thread (in a copy of this context, so the model's
        cost is charged to the running job); ``TimeoutError`` when it has not returned in time."""
        future: Future[T] = Future()
        context = contextvars.copy_context()

        def run() -> None:
            try:
                future.set_result(context.run(call, *args, **kwargs))
            except BaseException as exc:  # handed to the waiting caller, whatever it is
                future.set_exception(exc)

        threading.Thread(target=run, name=f"fallback-{tier_ref.id}", daemon=True).start()
        finished, _ = wait([future], timeout=self.timeout_s)
        if not finished:
            stats.record(tier_ref, "timeouts")
            raise TimeoutError(f"no answer within {self.timeout_s:g} s")
        return future.result()
