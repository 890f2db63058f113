"""Assets: upload, fetch from a URL, list, show, delete, and their stored bytes."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mediasift.api.body import RequestBody
from mediasift.api.deps import Caller, OwnTenant, ReadTenant, public_source
from mediasift.api.problems import documented
from mediasift.api.receive import Unacceptable, copy_limited, download, landing, safe_name, save_stream
from mediasift.mediatype import MediaType
from mediasift.net.pool import FetchPool
from mediasift.service import IngestReport, Mediasift
from mediasift.service_models import AssetDetail, AssetList, AssetStatus, IngestedFile, UploadResult

MULTIPART_FIELDS = 4
WAIT_POLL_S = 0.25


class FromUrl(RequestBody):
    url: str
    wait: bool = False


_INGESTED: dict[int | str, dict[str, object]] = {
    200: {"model": UploadResult, "description": "The same bytes were this tenant's asset already"},
    202: {"model": UploadResult, "description": "Registered; wait=true ran out of time before the analysis ended"},
    **documented(413, 422, 429, 503),
}
WaitQuery = Annotated[
    bool, Query(description="Answer once the workers have analysed it (202 after MEDIASIFT_API_WAIT_TIMEOUT_S).")
]
CursorQuery = Annotated[str | None, Query(description="next_cursor of the page before.", max_length=512)]
LimitQuery = Annotated[int, Query(ge=1, le=1000)]


def router(system: Mediasift, fetches: FetchPool) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["assets"])

    async def finish(request: Request, report: IngestReport, response: Response, wait: bool) -> UploadResult:
        if report.refused:
            raise Unacceptable(report.refused[0].reason)
        accepted = report.accepted[0]
        request.state.audit_target = str(accepted.asset_id)
        response.status_code = 200 if accepted.duplicate else 201
        analysed = None
        if wait:
            analysed = await _wait_for_workers(system, report)
            if not analysed:
                response.status_code = 202
        summary = report.summary()
        state = report.status.get(accepted.asset_id)
        return UploadResult(
            id=accepted.asset_id,
            media_type=accepted.media_type,
            duplicate=accepted.duplicate,
            analysed=analysed,
            status=state.status if state else None,
            failed=state.failed if state else None,
            accepted=[_public(a) for a in summary.accepted],
            rejected=summary.rejected,
        )

    @api.post("/assets", status_code=201, responses=_INGESTED)
    async def upload(
        request: Request, response: Response, tenant: OwnTenant, filename: str | None = None, wait: WaitQuery = False
    ) -> UploadResult:
        """Upload one file: multipart/form-data with a ``file`` field, or the raw bytes as the body
        with ``?filename=``. 201 when it is a new asset, 200 when the same bytes were this tenant's
        already, 413 over the size limit, 422 when the file is refused (with the reason), 429 when
        the queue is full."""
        report = await received(system, request, tenant, filename)
        return await finish(request, report, response, wait)

    @api.post("/assets/from-url", status_code=201, responses=_INGESTED)
    async def from_url(request: Request, body: FromUrl, response: Response, tenant: OwnTenant) -> UploadResult:
        """Fetch a file from an http(s) URL on a public address and ingest it, recorded as coming
        from that URL. The fetch runs on a pool of its own (``url_fetch_concurrency`` threads): 429
        with Retry-After when every one is busy."""
        report = await fetched(system, fetches, body.url, tenant)
        return await finish(request, report, response, body.wait)

    @api.get("/assets", responses=documented(422))
    def list_assets(
        tenant: ReadTenant,
        media_type: Annotated[MediaType | None, Query(alias="type")] = None,
        status: AssetStatus | None = None,
        cursor: CursorQuery = None,
        limit: LimitQuery = 100,
    ) -> AssetList:
        """The tenant's assets, oldest first, a page at a time (``next_cursor`` asks for the next)."""
        page = system.asset_page(
            media_type=media_type.value if media_type else None,
            status=status.value if status else None,
            tenant=tenant,
            cursor=cursor,
            limit=limit,
        )
        return page.model_copy(
            update={
                "assets": [a.model_copy(update={"sources": [public_source(s) for s in a.sources]}) for a in page.assets]
            }
        )

    @api.get("/assets/{asset}", responses=documented(404))
    def show(asset: str, tenant: ReadTenant) -> AssetDetail:
        """One asset (an id or an unambiguous prefix): metadata, artifacts with lineage, jobs, audit."""
        detail = system.describe(system.resolve(asset, tenant=tenant), tenant=tenant)
        return detail.model_copy(update={"sources": [public_source(s) for s in detail.sources]})

    @api.delete("/assets/{asset}", status_code=204, response_class=Response, responses=documented(404))
    def delete(asset: str, request: Request, tenant: ReadTenant, caller: Caller) -> Response:
        """Delete one asset (an id or an unambiguous prefix) and everything made from it: segments,
        embeddings, artifacts, jobs, cached model results, and the stored bytes no other asset
        uses. The audit keeps who deleted which id, and when, not what it held. 404 for an asset
        that is not there or is another tenant's."""
        asset_id = system.resolve(asset, tenant=tenant)
        request.state.audit_target = str(asset_id)
        deleted = system.delete_asset(asset_id, tenant=tenant, actor=f"api:{caller.key_id}")
        request.state.tenant = deleted.tenant
        return Response(status_code=204)

    return api


async def received(system: Mediasift, request: Request, tenant: str, filename: str | None) -> IngestReport:
    """The file a request uploads (multipart, field ``file``; or the raw body named ``filename``),
    registered as ``tenant``'s and queued; Unacceptable when it cannot be taken."""
    limit = system.settings.max_file_bytes
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    with landing(system.settings) as folder:
        if multipart:
            form = await request.form(max_files=1, max_fields=MULTIPART_FIELDS)
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise Unacceptable('a multipart upload needs its file in a field named "file"')
            name = safe_name(part.filename, "upload")
            await run_in_threadpool(copy_limited, part.file, folder / name, limit)
        else:
            if not filename:
                raise Unacceptable('send the file as multipart/form-data (field "file") or as the body, ?filename=')
            name = safe_name(filename, "upload")
            await save_stream(request.stream(), folder / name, limit)
        return await run_in_threadpool(system.ingest_received, folder / name, f"upload:{name}", tenant=tenant)


async def fetched(system: Mediasift, fetches: FetchPool, url: str, tenant: str) -> IngestReport:
    """The file at ``url``, fetched on ``fetches`` and registered as ``tenant``'s, from that URL."""
    with landing(system.settings) as folder:
        path, final_url = await fetches.run(download, url, system.settings, folder)
        return await run_in_threadpool(system.ingest_received, path, final_url, tenant=tenant)


async def _wait_for_workers(system: Mediasift, report: IngestReport) -> bool:
    """Whether the workers finish the report's assets within ``api_wait_timeout_s``. The wait holds no
    thread (a thread only for each look at the database), so many waiting clients cannot starve the
    API; the analysis is never done here."""
    deadline = time.monotonic() + system.settings.api_wait_timeout_s
    while not await run_in_threadpool(system.analysed, report):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(WAIT_POLL_S)
    return True


def _public(accepted: IngestedFile) -> IngestedFile:
    return accepted.model_copy(update={"path": public_source(accepted.path)})
