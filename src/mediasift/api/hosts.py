"""The Host headers the server answers: a page whose DNS name was rebound to this server's address
sends its own name, and is refused before anything else runs.

Starlette's ``TrustedHostMiddleware`` does the same but answers in plain text; this one answers as
every other refusal does (``application/problem+json``). A pattern is a name (``localhost``), or
``*.`` and a domain for its subdomains, or ``*`` for any."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from mediasift.api.problems import problem


class TrustedHosts:
    """ASGI middleware: HTTP requests whose Host (without its port) matches none of ``allowed``
    get 400 (other scopes pass)."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self.any = "*" in allowed
        self.names = frozenset(h.lower() for h in allowed if not h.startswith("*"))
        self.domains = tuple(h[1:].lower() for h in allowed if h.startswith("*."))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] != "http" or self.trusts(_host(scope)):
            await self.app(scope, receive, send)
            return
        why = "the Host header names no host this server answers (MEDIASIFT_API_TRUSTED_HOSTS)"
        await problem(400, why)(scope, receive, send)

    def trusts(self, host: str) -> bool:
        return host in self.names or (bool(host) and host.endswith(self.domains))


def _host(scope: Scope) -> str:
    """The request's Host header without its port, lowercased ('' when absent or repeated)."""
    values = [value for key, value in scope["headers"] if key == b"host"]
    if len(values) != 1:
        return ""
    host = values[0].decode("latin-1").strip().lower()
    if host.startswith("["):  # an IPv6 literal: [::1]:8000
        return host[: host.find("]") + 1] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
