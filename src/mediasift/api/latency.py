"""Request latency per route, for the API's ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Histogram
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

# Buckets from 5 ms (a status read) to 5 minutes (an upload that waits for its analysis).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class RequestTimer:
    """Times every request into ``mediasift_api_request_seconds{method, route, status}``. The route
    is the path template (``/assets/{asset}``), so ids do not multiply the series; paths no route
    matches are counted as ``unmatched``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            "mediasift_api_request_seconds",
            "HTTP API request latency",
            ["method", "route", "status"],
            registry=registry,
            buckets=BUCKETS,
        )

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _template(request)
            self.seconds.labels(request.method, route, str(status)).observe(time.perf_counter() - started)


def _template(request: Request) -> str:
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"
