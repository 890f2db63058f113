"""What any layer may tag its work with: the ids of the request, asset and job in hand (the JSON logs
print them), and trace spans.

Spans go through the OpenTelemetry API to the tracer :func:`enable` was given, which
``obs/tracing.py`` does only when an OTLP endpoint is configured. Until then every helper here is a
no-op that costs one ``None`` check: no SDK, no context switch, no span objects.

A trace crosses the broker as a W3C ``traceparent`` string stored in the job's payload
(:data:`TRACEPARENT`): the worker's job span continues the asset's trace.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
IDS = ("request_id", "asset_id", "job_id")

_ids: dict[str, contextvars.ContextVar[str | None]] = {name: contextvars.ContextVar(name, default=None) for name in IDS}
_in_model_call: contextvars.ContextVar[bool] = contextvars.ContextVar("mediasift_in_model_call", default=False)
_tracer: Tracer | None = None
_w3c = TraceContextTextMapPropagator()


# -- ids for the logs ---------------------------------------------------------------------------------


@contextlib.contextmanager
def tagged(**ids: str | None) -> Iterator[None]:
    """Inside the block, log records made in this context carry these ids (request_id, asset_id, job_id)."""
    tokens = [(_ids[name], _ids[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def tag(**ids: str | None) -> None:
    """Set ids for the rest of this context (a thread's job, a request's handler)."""
    for name, value in ids.items():
        _ids[name].set(value)


def current_ids() -> dict[str, str]:
    """The ids set in this context, and the trace and span ids when a span records."""
    found = {name: value for name, var in _ids.items() if (value := var.get()) is not None}
    if _tracer is not None:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            found["trace_id"], found["span_id"] = f"{context.trace_id:032x}", f"{context.span_id:016x}"
    return found


# -- spans -----------------------------------------------------------------------------------------------


def enable(tracer: Tracer | None) -> None:
    """Send spans to ``tracer`` from now on (None: stop)."""
    global _tracer
    _tracer = tracer


def enabled() -> bool:
    return _tracer is not None


@contextlib.contextmanager
def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    parent: str | None = None,
    root: bool = False,
    kind: SpanKind = SpanKind.INTERNAL,
) -> Iterator[Span | None]:
    """A span around the block (None when tracing is off). ``parent`` is a traceparent to continue
    (a job's); ``root`` starts a new trace, linked to the span that was current."""
    if _tracer is None:
        yield None
        return
    context: Context | None = None
    links: list[Link] = []
    if parent:
        context = _w3c.extract({TRACEPARENT: parent})
    elif root:
        current = trace.get_current_span().get_span_context()
        links = [Link(current)] if current.is_valid else []
        context = Context()
    with _tracer.start_as_current_span(
        name, context=context, kind=kind, attributes=dict(attributes or {}), links=links
    ) as opened:
        yield opened


@contextlib.contextmanager
def model_call(model: str, version: str, items: int) -> Iterator[None]:
    """A span for a call of a model (one per call as its caller sees it: a call made inside another,
    such as the counted call under a cached, batched one, is part of it)."""
    if _tracer is None or _in_model_call.get():
        yield
        return
    token = _in_model_call.set(True)
    try:
        with span(f"model {model}", {"model.id": model, "model.version": version, "model.items": items}):
            yield
    finally:
        _in_model_call.reset(token)


def traceparent() -> str | None:
    """The current span as a W3C traceparent (None when tracing is off or no span is current)."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _w3c.inject(carrier)
    return carrier.get(TRACEPARENT)
