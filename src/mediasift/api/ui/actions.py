"""What the UI's scripts and forms call: uploads, an asset's state, re-driving a dead job, the ops
data, and the stored media and exports a session may read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CollectorRegistry
from pydantic import Field
from starlette.responses import JSONResponse, RedirectResponse, Response

from mediasift.api.blob_response import readable_blob
from mediasift.api.body import RequestBody
from mediasift.api.receive import Unacceptable
from mediasift.api.routes.assets import fetched, received
from mediasift.api.ui import ops
from mediasift.api.ui.csrf import check_csrf
from mediasift.api.ui.render import session_of
from mediasift.net.pool import FetchPool
from mediasift.service import IngestReport, Mediasift
from mediasift.service_models import ExportFormat

EXPORTS = {"transcript.vtt": ExportFormat.VTT, "transcript.srt": ExportFormat.SRT, "ocr.vtt": ExportFormat.OCR_VTT}
HEX = frozenset("0123456789abcdef")


class UrlUpload(RequestBody):
    url: str = Field(max_length=4096)


def _accepted(request: Request, report: IngestReport) -> dict[str, Any]:
    if report.refused:
        raise Unacceptable(report.refused[0].reason)
    accepted = report.accepted[0]
    request.state.audit_target = str(accepted.asset_id)
    state = report.status.get(accepted.asset_id)
    return {"id": str(accepted.asset_id), "media_type": accepted.media_type, "duplicate": accepted.duplicate,
            "status": state.status if state else "pending"}  # fmt: skip


def router(system: Mediasift, fetches: FetchPool, registry: CollectorRegistry) -> APIRouter:
    ui = APIRouter(include_in_schema=False)

    @ui.post("/upload")
    async def upload(request: Request) -> JSONResponse:
        """One file per request (multipart, field ``file``), so each file of a drop has its own
        progress; the CSRF token in the ``X-CSRF-Token`` header."""
        await check_csrf(request)
        tenant = session_of(request).principal.owning_tenant()
        report = await received(system, request, tenant, None)
        await run_in_threadpool(system.analysed, report)  # bytes known already may be analysed already
        return JSONResponse(_accepted(request, report), status_code=201)

    @ui.post("/upload/url")
    async def upload_url(request: Request, body: UrlUpload) -> JSONResponse:
        await check_csrf(request)
        tenant = session_of(request).principal.owning_tenant()
        report = await fetched(system, fetches, body.url, tenant)
        await run_in_threadpool(system.analysed, report)
        return JSONResponse(_accepted(request, report), status_code=201)

    @ui.get("/assets/{asset}/state.json")
    def asset_state(request: Request, asset: str) -> dict[str, Any]:
        """Where the asset's analysis stands: its status and each operator's job."""
        tenant = session_of(request).principal.visible_tenant()
        detail = system.describe(system.resolve(asset[:64], tenant=tenant), tenant=tenant)
        jobs = {op: job.state for op, job in sorted(detail.jobs.items())}
        failed = {op: run.error or "" for op, run in detail.operators.items() if run.status == "failed"}
        return {"id": str(detail.id), "status": detail.status, "jobs": jobs, "failed": failed}

    @ui.post("/jobs/{job_id}/redrive")
    async def redrive(request: Request, job_id: str) -> Response:
        await check_csrf(request)
        tenant = session_of(request).principal.visible_tenant()
        count = await run_in_threadpool(system.redrive, [job_id[:200]], tenant=tenant)
        request.state.audit_target = job_id[:200]
        return RedirectResponse(f"/jobs?requeued={count}", status_code=303)

    @ui.get("/ops.json")
    def ops_data() -> dict[str, Any]:
        return ops.charts(system.status(), registry)

    @ui.get("/media/{sha256}")
    def media(request: Request, sha256: str) -> Response:
        """Stored bytes the session's tenant may read, with byte ranges (players seek with them);
        an original's download is audited, as over ``/v1/blobs``."""
        if len(sha256) != 64 or not set(sha256) <= HEX:
            raise HTTPException(404, "no such media")
        return readable_blob(system, request, sha256, session_of(request).principal.visible_tenant())

    @ui.get("/assets/{asset}/exports/{name}")
    def export(request: Request, asset: str, name: str) -> Response:
        tenant = session_of(request).principal.visible_tenant()
        asset_id = system.resolve(asset[:64], tenant=tenant)
        if name == "export.json":
            document = system.exports.document(asset_id, tenant=tenant)
            return Response(document.model_dump_json(indent=1), media_type="application/json",
                            headers={"Content-Disposition": f'attachment; filename="{asset_id}.json"'})  # fmt: skip
        fmt = EXPORTS.get(name)
        if fmt is None:
            raise HTTPException(404, f"no export {name[:40]!r}")
        return Response(system.exports.text(asset_id, fmt, tenant=tenant), media_type=fmt.media_type)

    return ui
