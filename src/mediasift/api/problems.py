"""Errors as ``application/problem+json`` (RFC 9457): every refusal the API gives, from a route or
from the gate in front of them, has one shape, and each route documents the statuses it can give."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    """One part of a request that did not validate: where (``["query", "limit"]``) and why."""

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """What went wrong, for a person (``detail``) and a program (``status``, ``title``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def problem(status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> ProblemResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, **extra)
    return ProblemResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each a :class:`Problem`."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


AsPage = Callable[[Request, int, str], Response | None]


def install(app: FastAPI, as_page: AsPage | None = None) -> None:
    """Every HTTPException and validation error answered as a problem, or, where ``as_page`` gives
    one (a browser asking for a page of the web UI), as that page."""

    def answer(request: Request, status: int, detail: str, **extra: Any) -> Response:
        shown = as_page(request, status, detail) if as_page is not None else None
        return shown if shown is not None else problem(status, detail, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.headers:  # a challenge or a Retry-After: the client reads the headers, not a page
            return problem(exc.status_code, str(exc.detail), headers=dict(exc.headers))
        return answer(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(loc=[str(p) if not isinstance(p, int) else p for p in e.get("loc", ())], msg=str(e.get("msg")))
            for e in exc.errors()
        ]
        first = errors[0] if errors else None
        detail = f"{'.'.join(map(str, first.loc))}: {first.msg}" if first else "the request is not valid"
        if first and first.loc[:1] == ["body"] and not _is_json(request.headers.get("content-type", "")):
            detail = "the body must be JSON, sent with Content-Type: application/json"
        return answer(request, 422, detail, errors=[e.model_dump() for e in errors])


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
