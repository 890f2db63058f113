"""A cap on HTTP requests in flight: past it, 503 at once, before the app spends anything on them.

Why not uvicorn's own ``limit_concurrency``: it counts open *connections* as well as requests, so
connections that have sent nothing yet (or half a request head, until the head deadline closes them)
and idle keep-alive connections turn every real request into a 503. 300 such connections against a
limit of 200 did exactly that (tests/api/test_server.py shows /healthz answering through them here).
What costs the server is a request being handled (a thread of the pool, a database connection, a
blob being streamed), so that is what is counted, from its start to its last byte sent.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

RETRY_AFTER_S = 1


class ConcurrencyLimit:
    """ASGI middleware: at most ``limit`` HTTP requests in the wrapped app at once; the rest get 503
    with ``Retry-After`` and ``Connection: close`` (lifespan and other scopes pass through)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the concurrency limit must be at least 1, not {limit}")
        self.app = app
        self.limit = limit
        self.in_flight = 0  # one event loop runs every call: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _refuse(send: Send) -> None:
    body = b'{"detail":"the server is at its limit of requests in flight; try again shortly"}'
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
