"""Security headers on every answer of the web UI (paths outside ``/v1``), redirects and refusals
included: a Content-Security-Policy that loads only this server's scripts, styles, images and media
and runs no inline script or handler, no framing, no referrer to other sites, no type sniffing.
Pages are not cached (they show one tenant's data); stored media is served privately by its routes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediasift.api.paths import is_api_path

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Stored bytes users gave are never a document of this origin, even if opened directly.
MEDIA_CSP = "default-src 'none'; sandbox"
MEDIA_PREFIX = "/media/"
STATIC_PREFIX = "/static/"
SYSTEM_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _headers(path: str) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", (MEDIA_CSP if path.startswith(MEDIA_PREFIX) else CSP).encode()),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"x-content-type-options", b"nosniff"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if not path.startswith((MEDIA_PREFIX, STATIC_PREFIX)):
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeaders:
    """ASGI middleware: adds the headers above to the UI's answers, replacing any of the same name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_api_path(scope["path"]) or scope["path"] in SYSTEM_PATHS:
            await self.app(scope, receive, send)
            return
        added = _headers(scope["path"])
        names = {name for name, _ in added}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + added}
            await send(message)

        await self.app(scope, receive, with_headers)
