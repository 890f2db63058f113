"""Signing in with an API key, and out."""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from mediasift.api.ratelimit import RequestLimiter
from mediasift.api.ui.csrf import check_csrf
from mediasift.api.ui.render import page
from mediasift.api.ui.session import COOKIE, SIGNIN_COOKIE, SIGNIN_COOKIE_S, Sessions, same_token
from mediasift.service import Mediasift

HOME = "/"
NONCE = re.compile(r"[A-Za-z0-9_-]{22}")
MAX_KEY_CHARS = 200


def local_target(next_: str | None) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or ``/\\host``,
    which browsers read as another site), the home page otherwise."""
    if not next_ or not next_.startswith("/") or next_.startswith(("//", "/\\")) or next_.startswith("/signin"):
        return HOME
    if any(ord(c) < 0x20 or c == "\\" for c in next_):
        return HOME
    return next_


def router(system: Mediasift, sessions: Sessions, failures: RequestLimiter) -> APIRouter:
    ui = APIRouter(include_in_schema=False)

    def form(request: Request, next_: str, error: str = "", status: int = 200) -> Response:
        # one nonce per sign-in cookie's life: a second tab (or a favicon fetch) must not void the first form
        nonce = request.cookies.get(SIGNIN_COOKIE, "")
        if not NONCE.fullmatch(nonce):
            nonce = secrets.token_urlsafe(16)
        response = page(request, "signin.html", code=status, next=local_target(next_), error=error,
                        signin_csrf=sessions.signin_token(nonce))  # fmt: skip
        response.set_cookie(SIGNIN_COOKIE, nonce, max_age=SIGNIN_COOKIE_S, path="/signin", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")  # fmt: skip
        return response

    @ui.get("/signin")
    def signin_page(request: Request, next: str = HOME) -> Response:
        return form(request, next[:2000])

    @ui.post("/signin")
    async def signin(request: Request) -> Response:
        fields = await request.form(max_files=0, max_fields=4)
        next_ = str(fields.get("next") or HOME)[:2000]
        nonce = request.cookies.get(SIGNIN_COOKIE, "")
        if not nonce or not same_token(str(fields.get("csrf") or ""), sessions.signin_token(nonce)):
            return form(request, next_, "The form had expired. Please sign in again.", status=403)
        client = request.client.host if request.client else ""
        address = f"client:{client}"
        if (wait := failures.wait(address)) > 0:
            return form(request, next_, f"Too many keys that did not work. Try again in {int(wait) + 1} s.", 429)
        key = str(fields.get("key") or "").strip()[:MAX_KEY_CHARS]
        principal = await run_in_threadpool(system.keys.authenticate, key) if key else None
        key_id = principal.key_id if principal else None  # None too for the legacy shared token: keys only
        found = await run_in_threadpool(system.keys.session_principal, key_id) if key_id else None
        if principal is None or found is None:
            failures.take(address)
            return form(request, next_, "That key was not accepted (unknown, revoked or expired).", 401)
        cookie, _ = sessions.issue(*found)
        await run_in_threadpool(
            lambda: system.record_api_action(key_id=principal.key_id, tenant=principal.tenant, client=client,
                                             action="POST /signin", target=principal.key_id or "", status=303)
        )  # fmt: skip
        response = RedirectResponse(local_target(next_), status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=int(sessions.lifetime_s), path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")  # fmt: skip
        response.delete_cookie(SIGNIN_COOKIE, path="/signin")
        return response

    @ui.post("/signout")
    async def signout(request: Request) -> Response:
        await check_csrf(request)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    return ui
