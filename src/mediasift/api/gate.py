"""The gate in front of every route, as plain ASGI middleware so that it acts before a byte of the body
is read: the URL is checked for control characters, the key is checked and its scope weighed against
what the request does, the key's rate is held, cross-site writes from browsers are refused, the body
is counted as it arrives, and writes (and downloads of originals) are written to the audit of API
actions with the status they ended with.

Paths outside ``/v1`` (and ``/openapi.json``) are the web UI's: there the gate takes the session
cookie (:mod:`mediasift.api.ui.session`) instead of a bearer key, sends a browser without one to
the sign-in page, and holds the session's key to the same scopes, rate and cross-site rule; the
UI's routes check the CSRF token of each write themselves (it may be a form field).
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediasift.access import Principal
from mediasift.access import Scope as KeyScope
from mediasift.api.paths import is_api_path
from mediasift.api.problems import problem
from mediasift.api.ratelimit import RequestLimiter
from mediasift.api.ui.render import error_page
from mediasift.api.ui.session import COOKIE, Session

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
METRICS_PATH = "/metrics"
ADMIN_PREFIXES = ("/v1/keys", "/v1/status", "/v1/models", "/v1/cost")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
# The web UI: what needs no session, the one write a read key may do, what only admins see.
UI_OPEN_PREFIXES = ("/static/",)
UI_OPEN_PATHS = frozenset({"/signin", "/favicon.ico"})
UI_READ_WRITES = frozenset({"/signout"})
UI_ADMIN_PREFIXES = ("/ops",)
SIGNIN_PATH = "/signin"


class BodyTooLarge(Exception):
    """The body grew past ``limit`` bytes as it arrived; ``why`` names the setting behind the limit."""

    def __init__(self, limit: int, why: str) -> None:
        super().__init__(too_large(limit, why))
        self.limit = limit


def too_large(limit: int, why: str) -> str:
    return f"the body is larger than the limit of {limit:,} bytes: {why}"


@dataclass(frozen=True)
class GateRules:
    """What the gate needs to know: how to tell a key, the legacy shared token (an admin of the
    default tenant), the metrics token, body limits, the rate per key and the origins browsers may
    write from."""

    authenticate: Callable[[str], Principal | None]
    record: Callable[..., None]
    legacy_token: str
    legacy_principal: Principal
    metrics_token: str
    upload_paths: frozenset[str]
    upload_limit: int
    body_limit: int
    upload_limit_why: str  # the settings that make ``upload_limit``, as a person reads them
    body_limit_why: str
    limiter: RequestLimiter
    failures: RequestLimiter  # refused keys per client address, so guessing keys costs the guesser
    allowed_origins: frozenset[str]
    sessions: Callable[[str], Session | None] | None = None  # a session cookie's value -> its session


def ui_needed_scope(method: str, path: str) -> KeyScope:
    if path.startswith(UI_ADMIN_PREFIXES):
        return KeyScope.ADMIN
    return KeyScope.READ if method in SAFE_METHODS or path in UI_READ_WRITES else KeyScope.WRITE


# POSTs that only read: a query too big for a URL (a picture to search by).
READING_POSTS = frozenset({"/v1/search/by-image"})


def needed_scope(method: str, path: str) -> KeyScope:
    if path.startswith(ADMIN_PREFIXES):
        return KeyScope.ADMIN
    return KeyScope.READ if method in SAFE_METHODS or (method == "POST" and path in READING_POSTS) else KeyScope.WRITE


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class Gate:
    def __init__(self, app: ASGIApp, rules: GateRules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, _closing(send, scope))
            return
        principal: Principal | None = scope["state"].get("principal")
        upload = scope["path"] in self.rules.upload_paths
        limit = self.rules.upload_limit if upload else self.rules.body_limit
        why = self.rules.upload_limit_why if upload else self.rules.body_limit_why
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            await problem(413, too_large(limit, why))(scope, receive, _closing(send, scope))
            return
        await self._forward(scope, _counted(receive, limit, why), _closing(send, scope), principal)

    async def _refusal(self, scope: Scope) -> Any:
        """A response refusing the request before the app sees it, or None to let it through."""
        raw = scope.get("raw_path") or scope["path"].encode()
        path_bytes, query_bytes = unquote_to_bytes(raw), unquote_to_bytes(scope["query_string"])
        if CONTROL.search(path_bytes) or CONTROL.search(query_bytes):
            return problem(400, "the URL holds a control character")
        if not (_is_utf8(path_bytes) and _is_utf8(query_bytes)):  # read as "\ufffd" and searched for
            return problem(400, "the URL holds bytes that are not UTF-8 text (percent-encode text as UTF-8)")
        path, method = scope["path"], scope["method"]
        scope.setdefault("state", {})
        if path in OPEN_PATHS:
            return None
        if path == METRICS_PATH:
            token = self.rules.metrics_token
            return None if not token or self._bearer(scope) == token else _unauthorized("the metrics token")
        given = self._bearer(scope)
        if not is_api_path(path):
            if given and not _ui_open(path):
                # a program with a key, not a browser with a session: it means an API route
                shown = path if len(path) <= 200 else path[:200] + "…"
                return problem(404, f"no API route {shown}: the API's routes begin with /v1/ (see /openapi.json)")
            return await self._ui_refusal(scope)
        client = scope.get("client")
        address = f"client:{client[0] if client else ''}"
        if given and (blocked := self.rules.failures.wait(address)) > 0:
            return _too_many(blocked, "refused keys from this address")
        principal = await to_thread.run_sync(self._principal, given) if given else None
        if principal is None:
            if given:
                self.rules.failures.take(address)
                return problem(401, "the API key given is unknown, revoked or expired",
                               headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})  # fmt: skip
            return _unauthorized("a valid API key")
        # counted before the scope is checked: a key's refused writes, audited, come at its pace too
        wait = self.rules.limiter.take(principal.key_id or "token")
        if wait > 0:
            return _too_many(wait, "requests for this key")
        if not principal.scope.allows(needed := needed_scope(method, path)):
            await self._audit(scope, principal, 403)  # a write it may not make is on record
            return problem(403, f"this key's scope is {principal.scope.value}; {method} {path} needs {needed.value}")
        if method not in SAFE_METHODS and self._cross_site(scope):
            await self._audit(scope, principal, 403)
            return problem(403, "a write from another site's page is refused (Origin not allowed)")
        scope["state"]["principal"] = principal
        return None

    async def _ui_refusal(self, scope: Scope) -> Any:
        """The web UI's gate: a session cookie in place of a bearer key."""
        path, method = scope["path"], scope["method"]
        if method not in SAFE_METHODS and self._cross_site(scope):
            return problem(403, "a write from another site's page is refused (Origin not allowed)")
        if _ui_open(path):
            return None
        cookie = _cookie(scope, COOKIE)
        opener = self.rules.sessions
        session = await to_thread.run_sync(opener, cookie) if cookie and opener is not None else None
        if session is None:
            if method in SAFE_METHODS and "text/html" in _header(scope, b"accept"):  # a page: to the sign-in
                query = scope["query_string"].decode("latin-1")
                back = quote(path + (f"?{query}" if query else ""), safe="")
                return RedirectResponse(f"{SIGNIN_PATH}?next={back}", status_code=303)
            return problem(401, "sign in first: this page needs a session")
        principal = session.principal
        if not principal.scope.allows(needed := ui_needed_scope(method, path)):
            why = f"this key's scope is {principal.scope.value}; {method} {path} needs {needed.value}"
            scope["state"]["session"] = session  # the page shows who is signed in
            return error_page(Request(scope), 403, why) or problem(403, why)
        wait = self.rules.limiter.take(principal.key_id or "token")
        if wait > 0:
            return _too_many(wait, "requests for this key")
        scope["state"]["principal"] = principal
        scope["state"]["session"] = session
        return None

    def _principal(self, given: str) -> Principal | None:
        legacy = self.rules.legacy_token
        if legacy and hmac.compare_digest(given.encode(), legacy.encode()):
            return self.rules.legacy_principal
        return self.rules.authenticate(given)

    @staticmethod
    def _bearer(scope: Scope) -> str:
        kind, _, given = _header(scope, b"authorization").partition(" ")
        return given.strip() if kind.lower() == "bearer" else ""

    def _cross_site(self, scope: Scope) -> bool:
        """Whether a browser sent this from another site's page: ``Sec-Fetch-Site`` says so, or the
        ``Origin`` is neither this host nor an allowed origin."""
        if _header(scope, b"sec-fetch-site") == "cross-site":
            return True
        origin = _header(scope, b"origin")
        if not origin or origin in self.rules.allowed_origins:
            return False
        return urlsplit(origin).netloc.lower() != _header(scope, b"host").lower()

    async def _forward(self, scope: Scope, receive: Receive, send: Send, principal: Principal | None) -> None:
        started = False

        async def send_audited(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if principal is not None:
                    await self._audit(scope, principal, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except BodyTooLarge as exc:
            if started:
                raise
            await problem(413, str(exc))(scope, receive, send_audited)

    async def _audit(self, scope: Scope, principal: Principal, status: int) -> None:
        state = scope["state"]
        if scope["method"] in SAFE_METHODS and not state.get("audit"):
            return
        route = scope.get("route")
        template = getattr(route, "path", scope["path"])
        client = scope.get("client")
        await to_thread.run_sync(
            lambda: self.rules.record(
                key_id=principal.key_id,
                tenant=state.get("tenant", principal.tenant),
                client=client[0] if client else "",
                action=f"{scope['method']} {template}",
                target=str(state.get("audit_target", scope["path"])),
                status=status,
            )
        )


def _ui_open(path: str) -> bool:
    """Whether the web UI serves ``path`` to anyone (the sign-in page, its static files)."""
    return path in UI_OPEN_PATHS or path.startswith(UI_OPEN_PREFIXES)


def _cookie(scope: Scope, name: str) -> str:
    """The value of cookie ``name`` (the first, when sent twice), or ''."""
    for key, value in scope["headers"]:
        if key != b"cookie":
            continue
        for pair in value.decode("latin-1").split(";"):
            found, _, given = pair.strip().partition("=")
            if found == name:
                return given.strip()
    return ""


def _closing(send: Send, scope: Scope) -> Send:
    """``send``, closing the connection after an error answer to a request that has a body: the
    server would otherwise go on reading (and discarding) the rest of a body nobody wants, however
    long, to keep the connection alive."""
    has_body = _header(scope, b"transfer-encoding") or _header(scope, b"content-length") not in ("", "0")
    if not has_body:
        return send

    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start" and int(message["status"]) >= 400:
            message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await send(message)

    return closing


def _counted(receive: Receive, limit: int, why: str) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit, why)
        return message

    return counted


def _too_many(wait_s: float, what: str) -> Any:
    retry = str(max(1, math.ceil(wait_s)))
    return problem(429, f"too many {what}; retry in {retry} s", headers={"Retry-After": retry})


def _unauthorized(what: str) -> Any:
    return problem(401, f"{what} is required (Authorization: Bearer ...)", headers={"WWW-Authenticate": "Bearer"})


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
