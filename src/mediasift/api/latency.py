"""Request latency per route, for the API's ``/metrics``: ``mediasift_api_request_seconds{method,
route, status}``, with every label drawn from a bounded set so that no client can multiply the
series: the route is the path template (``/v1/assets/{asset}``, ``unmatched`` for paths no route
has), the method one of the standard ones (``other`` for any other), the status a number a server
gives (100-599)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Buckets from 5 ms (a status read) to 5 minutes (an upload that waits for its analysis).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "mediasift_api_request_seconds",
        "HTTP API request latency",
        ["method", "route", "status"],
        registry=registry,
        buckets=BUCKETS,
    )


class RequestTimer:
    """ASGI middleware timing every HTTP request into ``seconds``."""

    def __init__(self, app: ASGIApp, seconds: Histogram) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            label = str(status) if 100 <= status <= 599 else "other"
            self.seconds.labels(method, route_template(scope), label).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The path template of the route that answers the request (``unmatched`` for none)."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    for candidate in scope["app"].router.routes:
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", "unmatched"))
    return "unmatched"
