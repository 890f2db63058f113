"""The HTTP API: the CLI's contracts over HTTP (same JSON), plus uploads, URLs and blobs.

Handlers that touch the database or wait for work are plain functions, which FastAPI runs in its
thread pool; bodies are read asynchronously and handed to ingest in that pool too. Ingest over HTTP
queues work for the workers; ``wait=true`` holds the answer until the analysis is done, and does the
work in this process when no worker is alive, as ``ingest --wait`` does.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from mediasift.api.blob_response import blob_response
from mediasift.api.latency import RequestTimer
from mediasift.api.receive import Unacceptable, copy_limited, download, landing, safe_name, save_stream
from mediasift.config import Settings, load_settings
from mediasift.mediatype import MediaType
from mediasift.service import AssetNotFound, IngestReport, Mediasift
from mediasift.service_models import (
    AssetDetail,
    AssetList,
    AssetSummary,
    DeadLetterInfo,
    DeadLetterList,
    IngestSummary,
    JobDetail,
    SearchMode,
    SearchResults,
    SimilarList,
    Status,
)

# A multipart body is the file plus a few hundred bytes of headers and boundaries.
MULTIPART_OVERHEAD = 64 * 1024


class FromUrl(BaseModel):
    url: str
    wait: bool = False


class Health(BaseModel):
    status: Literal["ok"]


class Requeued(BaseModel):
    requeued: int  # dead jobs queued again


class PrometheusText(Response):
    media_type = CONTENT_TYPE_LATEST


# Stored bytes go out with the media type they were stored with: a thumbnail, a keyframe, an original.
_BLOB_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The bytes", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
}
# An ingested file is 201 when it is a new asset and 200 when the same bytes were there already.
_INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": IngestSummary, "description": "The same bytes were stored already"},
}


async def _refuse_nul_in_query(request: Request, call_next: Callable[[Request], Any]) -> Any:
    """A NUL in a query parameter is a 422: PostgreSQL text cannot hold one, so it would fail deep
    inside a query as a 500."""
    for name, value in request.query_params.multi_items():
        if "\x00" in value:
            return JSONResponse({"detail": f"query parameter {name!r} holds a NUL character"}, status_code=422)
    return await call_next(request)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API over the system ``settings`` describe (the environment's by default: this is an entry
    point, where the environment is read)."""
    system = Mediasift(settings or load_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        system.close()

    registry = system.metrics_registry()
    timer = RequestTimer(registry)
    app = FastAPI(
        title="mediasift",
        version=version("mediasift"),
        summary="Ingest, analyse and search video, audio, images and text.",
        lifespan=lifespan,
        dependencies=[Depends(_bearer(system.settings.api_token))],
    )
    app.middleware("http")(timer.middleware)
    app.middleware("http")(_refuse_nul_in_query)

    @app.exception_handler(AssetNotFound)
    async def not_found(_: Request, exc: AssetNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Unacceptable)
    async def unacceptable(_: Request, exc: Unacceptable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.get("/healthz", tags=["system"])
    def healthz() -> Health:
        """Whether the API can reach its database (open without a token, for load balancers)."""
        system.ping()
        return Health(status="ok")

    @app.get("/status", tags=["system"])
    def status() -> Status:
        return system.status()

    @app.get("/metrics", tags=["system"], response_class=PrometheusText)
    def metrics() -> PrometheusText:
        """Prometheus: what ``status`` says, request latency per route, and this process's figures."""
        return PrometheusText(generate_latest(registry))

    @app.post("/assets", tags=["assets"], status_code=201, responses=_INGEST_RESPONSES)
    async def upload(
        request: Request, response: Response, filename: str | None = None, wait: bool = False
    ) -> IngestSummary:
        """Upload one file: multipart/form-data with a ``file`` field, or the raw bytes as the body
        with ``?filename=``. 201 when it is a new asset, 200 when the same bytes were there already,
        413 over the size limit, 422 when the file is refused (with the reason)."""
        limit = system.settings.max_file_bytes
        multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + (MULTIPART_OVERHEAD if multipart else 0):
            raise Unacceptable(f"larger than the limit of {limit:,} bytes (MEDIASIFT_MAX_FILE_BYTES)", status=413)
        if multipart:
            form = await request.form(max_files=1, max_fields=4)
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise Unacceptable('a multipart upload needs its file in a field named "file"')
            name = safe_name(part.filename, "upload")
            with landing(system.settings) as folder:
                path = folder / name
                await run_in_threadpool(copy_limited, part.file, path, limit)
                report = await run_in_threadpool(system.ingest_received, path, f"upload:{name}", wait=wait)
        else:
            if not filename:
                raise Unacceptable('send the file as multipart/form-data (field "file") or as the body, ?filename=')
            name = safe_name(filename, "upload")
            with landing(system.settings) as folder:
                path = folder / name
                await save_stream(request.stream(), path, limit)
                report = await run_in_threadpool(system.ingest_received, path, f"upload:{name}", wait=wait)
        return _ingested(report, response)

    @app.post("/assets/from-url", tags=["assets"], status_code=201, responses=_INGEST_RESPONSES)
    def from_url(body: FromUrl, response: Response) -> IngestSummary:
        """Fetch a file from an http(s) URL and ingest it, recorded as coming from that URL."""
        with landing(system.settings) as folder:
            path, final_url = download(body.url, system.settings, folder)
            return _ingested(system.ingest_received(path, final_url, wait=body.wait), response)

    @app.get("/assets", tags=["assets"])
    def list_assets(
        media_type: Annotated[MediaType | None, Query(alias="type")] = None, status: str | None = None
    ) -> AssetList:
        rows = system.list_assets(media_type=media_type.value if media_type else None, status=status)
        return AssetList(assets=[AssetSummary.of(row) for row in rows])

    @app.get("/assets/{asset}", tags=["assets"])
    def show(asset: str) -> AssetDetail:
        """One asset (an id or an unambiguous prefix): metadata, artifacts with lineage, jobs, audit."""
        return system.describe(system.resolve(asset))

    @app.get("/assets/{asset}/similar", tags=["search"])
    def similar(asset: str, limit: Annotated[int, Query(ge=1, le=1000)] = 10) -> SimilarList:
        asset_id = system.resolve(asset)
        return SimilarList.of(asset_id, system.similar(asset_id, limit=limit))

    @app.get("/search", tags=["search"])
    def search(
        q: Annotated[str, Query(min_length=1, description="What to look for.")],
        media_type: Annotated[MediaType | None, Query(alias="type")] = None,
        mode: SearchMode = SearchMode.HYBRID,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    ) -> SearchResults:
        hits = system.search(q, limit=limit, media_type=media_type.value if media_type else None, mode=mode)
        return SearchResults(results=hits)

    @app.get("/blobs/{sha256}", tags=["assets"], response_class=Response, responses=_BLOB_RESPONSE)
    def blob(sha256: Annotated[str, Depends(_sha256)], request: Request) -> Response:
        """Stored bytes by their sha256: thumbnails, keyframes (named in artifacts) and originals;
        streamed, with byte ranges (206/416) and ETag revalidation (304)."""
        return blob_response(system.blobs, sha256, system.blob_media_type(sha256), request.headers)

    @app.get("/jobs/dead", tags=["jobs"])
    def dead_letters(operator: str | None = None) -> DeadLetterList:
        return DeadLetterList(dead_letters=[DeadLetterInfo.of(letter) for letter in system.dead_letters(operator)])

    @app.get("/jobs/{job_id}", tags=["jobs"])
    def job(job_id: str) -> JobDetail:
        return system.job(job_id)

    @app.post("/jobs/{job_id}/redrive", tags=["jobs"])
    def redrive(job_id: str) -> Requeued:
        return Requeued(requeued=system.redrive([job_id]))

    return app


def _ingested(report: IngestReport, response: Response) -> IngestSummary:
    if report.refused:
        raise Unacceptable(report.refused[0].reason)
    response.status_code = 200 if report.accepted[0].duplicate else 201
    return report.summary()


def _sha256(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise HTTPException(404, f"no blob {sha256!r}")
    return sha256


def _bearer(token: str) -> Callable[[Request], None]:
    """A check of ``Authorization: Bearer <token>`` on every route but /healthz; none when no token."""

    def check(request: Request) -> None:
        if not token or request.url.path == "/healthz":
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    return check
