"""Traces out over OTLP/HTTP (protobuf), set up once per process when ``otel_endpoint`` is set
(``OTEL_EXPORTER_OTLP_ENDPOINT``, read by the entry points into ``Settings``); nothing otherwise.

Spans are batched in memory and exported from a background thread (the SDK's
``BatchSpanProcessor``), so a job never waits on the collector; a collector that is down loses
spans, not work. The spans themselves are opened through :mod:`mediasift.telemetry`.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING

from mediasift import telemetry
from mediasift.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_lock = threading.Lock()
_provider: TracerProvider | None = None


def setup(settings: Settings) -> bool:
    """Start exporting spans to ``settings.otel_endpoint`` (its ``/v1/traces``), once per process;
    whether tracing is on. The first settings with an endpoint win."""
    global _provider
    endpoint = settings.otel_endpoint.strip().rstrip("/")
    if not endpoint:
        return telemetry.enabled()
    # The SDK and its exporter are imported here: 50 ms of every command's start, for the few set up.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    with _lock:
        if _provider is None:
            provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}))
            exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=settings.otel_timeout_s)
            provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
            telemetry.enable(provider.get_tracer("mediasift"))
            atexit.register(provider.shutdown)
            _provider = provider
    return True


def flush(timeout_s: float = 10.0) -> bool:
    """Export the spans still held (before a process ends on its own terms)."""
    return _provider.force_flush(int(timeout_s * 1000)) if _provider is not None else True


def set_recording(on: bool) -> None:
    """Stop or resume sending spans once set up (for a benchmark comparing the two in one process)."""
    telemetry.enable(_provider.get_tracer("mediasift") if on and _provider is not None else None)
