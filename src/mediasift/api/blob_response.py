"""A stored blob as an HTTP response: streamed in chunks from the store, with byte ranges and caching.

- ``Range: bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` get 206 with ``Content-Range``; a range that
  starts past the end (or ``bytes=-0``, or any range of an empty blob) gets 416 with
  ``Content-Range: bytes */size`` (an HTTPException, which the app's error handler words). A Range
  header this does not parse, a unit other than bytes, or several ranges (``bytes=0-1,5-9``) is
  ignored and the whole blob is sent with 200, as RFC 9110 (14.2) allows: players and download
  managers ask for one range, and a multipart/byteranges answer would be code for clients that do
  not exist here. ``If-Range`` with the ETag keeps the range;
  anything else there (a date, another tag) means the whole blob.
- The ETag is the sha256 (strong: the bytes cannot change under it), and ``If-None-Match`` naming it
  (or ``*``) gets 304. ``Cache-Control: private``: blobs are behind API keys, so shared caches must
  not keep them; a day's max-age, not more, as a key can be revoked and an asset deleted.
- ``X-Content-Type-Options: nosniff``: the stored media type is what the browser uses (an uploaded
  "image" that is really HTML is not rendered as HTML), and with a ``filename`` the blob goes out as
  an attachment (``Content-Disposition``), for originals that should be saved rather than shown.

The body is read from the store on the thread pool, 1 MiB at a time, only as fast as the client
takes it (uvicorn's flow control holds each write until the socket drains): memory per download is a
few chunks, whatever the blob's size (tests/api/test_blob_response.py measures it). A client that
goes away stops the reading, and the file or S3 connection is closed.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mediasift.blobs import BlobStore

MAX_AGE_S = 24 * 3600
_RANGE = re.compile(r"bytes\s*=\s*(\d*)\s*-\s*(\d*)", re.IGNORECASE)
_UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\]')


class RangeNotSatisfiable(Exception):
    """The Range asks only for bytes past the end of the blob."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


def parse_range(header: str, size: int) -> ByteRange | None:
    """The one byte range ``header`` asks of ``size`` bytes, clipped to them; None when the header is
    to be ignored (not one well-formed bytes range); RangeNotSatisfiable when none of it exists."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        if last and int(last) < start:
            return None  # "bytes=9-5" is not a range at all
        if start >= size:
            raise RangeNotSatisfiable
        return ByteRange(start, min(int(last) + 1, size) if last else size)
    if not last:
        return None  # "bytes=-"
    suffix = int(last)
    if suffix == 0 or size == 0:
        raise RangeNotSatisfiable
    return ByteRange(max(0, size - suffix), size)


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",")]


def none_match(header: str, etag: str) -> bool:
    """Whether ``If-None-Match: header`` names ``etag`` (weak comparison, as RFC 9110 asks here)."""
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in _tags(header))


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` any client reads and, for other names, the exact one
    as ``filename*`` (RFC 6266)."""
    fallback = _UNSAFE_IN_QUOTES.sub("_", filename) or "download"
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def blob_response(
    store: BlobStore,
    sha256: str,
    media_type: str,
    request_headers: Mapping[str, str],
    *,
    filename: str | None = None,
    max_age_s: int = MAX_AGE_S,
) -> Response:
    """The response to a GET of blob ``sha256`` (stored as ``media_type``) with ``request_headers``;
    HTTPException 404 when the store does not hold it. ``filename``: send it as an attachment."""
    try:
        size = store.size(sha256)
    except FileNotFoundError:
        raise HTTPException(404, f"no blob {sha256}") from None
    etag = f'"{sha256}"'
    headers = {
        "etag": etag,
        "cache-control": f"private, max-age={max_age_s}",
        "accept-ranges": "bytes",
        "x-content-type-options": "nosniff",
    }
    if filename is not None:
        headers["content-disposition"] = content_disposition(filename)
    if none_match(request_headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)

    wanted = request_headers.get("range")
    if_range = request_headers.get("if-range")
    if wanted is not None and (if_range is None or if_range.strip() == etag):
        try:
            byte_range = parse_range(wanted, size)
        except RangeNotSatisfiable:
            raise HTTPException(
                416, f"the blob has {size} bytes: no part of {wanted!r} is in it", {"content-range": f"bytes */{size}"}
            ) from None
        if byte_range is not None:
            headers["content-range"] = byte_range.content_range(size)
            return _stream(store, sha256, media_type, byte_range, 206, headers)
    return _stream(store, sha256, media_type, ByteRange(0, size), 200, headers)


def _stream(
    store: BlobStore, sha256: str, media_type: str, byte_range: ByteRange, status: int, headers: dict[str, str]
) -> StreamingResponse:
    # The type goes in as given: Starlette's media_type would add "; charset=utf-8" to text types,
    # which is not known of a stored original.
    headers = {**headers, "content-type": media_type, "content-length": str(byte_range.end - byte_range.start)}
    return StreamingResponse(_chunks(store, sha256, byte_range), status_code=status, headers=headers)


async def _chunks(store: BlobStore, sha256: str, byte_range: ByteRange) -> AsyncIterator[bytes]:
    """The range's chunks, each read on the thread pool; the store's reader is closed however this
    ends (done, the client gone, the server shutting down)."""
    reader = store.open_range(sha256, byte_range.start, byte_range.end)
    try:
        while (chunk := await run_in_threadpool(next, reader, None)) is not None:
            yield chunk
    finally:
        reader.close()


def readable_blob(system: Any, request: Request, sha256: str, tenant: str | None) -> Response:
    """A blob ``tenant`` may read (None: any), streamed; an original is sent as an attachment and its
    download marked for the audit. ``system`` is the :class:`mediasift.service.Mediasift` serving."""
    info = system.blob_info(sha256, tenant=tenant)
    filename = None
    if info.original:
        request.state.audit = True
        request.state.audit_target = sha256
        filename = sha256[:16] + _extension(info.mime)  # saved by a type it can be opened with
    return blob_response(system.blobs, sha256, info.mime, request.headers, filename=filename)


def _extension(mime: str) -> str:
    """The usual file extension of ``mime`` (".mp4", ".jpg"), or none where it has none known."""
    return _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ""


# where the standard library's table guesses otherwise (".mpv", ".oga", ".jpe") or not at all
_EXTENSIONS = {
    "image/jpeg": ".jpg", "audio/mpeg": ".mp3", "text/plain": ".txt", "video/x-matroska": ".mkv",
    "audio/x-matroska": ".mka", "audio/ogg": ".ogg", "video/ogg": ".ogv", "video/mp2t": ".ts", "audio/mp2t": ".ts",
}  # fmt: skip
