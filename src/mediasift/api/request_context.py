"""Each request's id and span: the id a client sent in ``X-Request-ID`` (when it is a sane token) or
a new one, set for the request's log lines and returned in the response's ``X-Request-ID``; and,
when tracing is on, a server span named by the route template (``POST /v1/assets``), which the
ingest of each uploaded asset links its own trace to. At log level INFO, one line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediasift import telemetry
from mediasift.api.latency import METHODS, route_template

log = logging.getLogger(__name__)

HEADER = b"x-request-id"
# What a client may name its request with: short, printable, nothing a log line would choke on.
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"")
        request_id = given.decode() if _SANE.fullmatch(given) else uuid.uuid4().hex
        method = scope["method"] if scope["method"] in METHODS else "other"
        attributes = {"http.request.method": method, "url.path": scope["path"], "mediasift.request_id": request_id}

        with (
            telemetry.tagged(request_id=request_id),
            telemetry.span(f"{method} request", attributes, kind=SpanKind.SERVER) as span,
        ):
            status = 500

            async def identified(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
                    if span is not None:
                        span.set_attribute("http.response.status_code", int(message["status"]))
                await send(message)

            started = time.perf_counter()
            try:
                await self.app(scope, receive, identified)
            finally:
                route = route_template(scope)
                if span is not None:
                    span.update_name(f"{method} {route}")
                if log.isEnabledFor(logging.INFO):
                    log.info("%s %s %s in %.1f ms", method, route, status, (time.perf_counter() - started) * 1000)
