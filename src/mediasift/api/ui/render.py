"""Pages rendered from Jinja2 templates with autoescape on: every value a template prints is escaped
unless a view built it as ``Markup`` (only :func:`mediasift.api.ui.views.marked` does, escaping
the text itself). Data for a page's script goes in a ``<script type="application/json">`` block
through ``tojson``, which escapes ``<``, ``>``, ``&`` and quotes, so it is never run."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from mediasift.access import Principal
from mediasift.api.paths import is_api_path
from mediasift.api.ui.session import Session
from mediasift.api.ui.views import clock

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
_env.filters["clock"] = clock


def session_of(request: Request) -> Session:
    """The session the gate opened for this request (every UI route but sign-in has one)."""
    found = getattr(request.state, "session", None)
    if not isinstance(found, Session):
        raise HTTPException(401, "sign in first")
    return found


def page(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    principal: Principal | None = session.principal if isinstance(session, Session) else None
    html = _env.get_template(template).render(
        path=request.url.path,
        principal=principal,
        csrf=session.csrf if isinstance(session, Session) else "",
        **context,
    )
    return HTMLResponse(html, status_code=code)


def wants_page(method: str, path: str, accept: str) -> bool:
    """Whether a request is a browser's for a page of the UI (not the API's, not a script's fetch)."""
    return (
        method in ("GET", "HEAD")
        and "text/html" in accept
        and not is_api_path(path)
        and not path.startswith("/static/")
    )


def error_page(request: Request, status: int, detail: str) -> HTMLResponse | None:
    """An error of a browser's page request as a page (the reason, a way back), not the API's
    problem+json; None for any other request."""
    if not wants_page(request.method, request.url.path, request.headers.get("accept", "")):
        return None
    return page(request, "error.html", code=status, title=HTTPStatus(status).phrase, detail=detail)
