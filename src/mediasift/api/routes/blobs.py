"""Stored bytes by their sha256: thumbnails and keyframes (named in artifacts), and originals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from mediasift.api.blob_response import readable_blob
from mediasift.api.deps import ReadTenant
from mediasift.api.problems import documented
from mediasift.service import Mediasift

_BLOB_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The bytes", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
    206: {"description": "The range asked for", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
    304: {"description": "Not modified: the ETag given is this blob's"},
    **documented(404, 416),
}


def router(system: Mediasift) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["assets"])

    @api.get("/blobs/{sha256}", response_class=Response, responses=_BLOB_RESPONSE)
    def blob(sha256: str, request: Request, tenant: ReadTenant) -> Response:
        """Stored bytes the tenant may read, by their sha256, streamed: one byte range is 206 (416
        past the end), and the sha256 is the ETag (If-None-Match: 304). An asset's original is an
        attachment, and its download (each range of it) is written to the audit of API actions."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise HTTPException(404, f"no blob {sha256!r}")
        return readable_blob(system, request, sha256, tenant)

    return api
