"""The CSRF check of every write the web UI takes: the session's token, from the ``X-CSRF-Token``
header (scripts; an upload's multipart body is not read for it) or a form's ``csrf`` field."""

from __future__ import annotations

from fastapi import HTTPException, Request

from mediasift.api.ui.render import session_of
from mediasift.api.ui.session import same_token

HEADER = "x-csrf-token"
FORM_TYPE = "application/x-www-form-urlencoded"


async def check_csrf(request: Request) -> None:
    """403 unless the request carries this session's CSRF token."""
    expected = session_of(request).csrf
    given = request.headers.get(HEADER)
    if given is None and request.headers.get("content-type", "").startswith(FORM_TYPE):
        fields = await request.form(max_files=0, max_fields=8)
        value = fields.get("csrf")
        given = value if isinstance(value, str) else None
    if not same_token(given, expected):
        raise HTTPException(403, "this form's CSRF token is missing or wrong: reload the page and try again")
