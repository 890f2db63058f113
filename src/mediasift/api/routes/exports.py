"""Exports of an asset: its transcript as WebVTT and SRT, its on-screen text as WebVTT, and all that
is known of it as one JSON document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from mediasift.api.deps import ReadTenant
from mediasift.api.problems import documented
from mediasift.service import Mediasift
from mediasift.service_models import AssetExport, ExportFormat


def _text(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": "The file", "content": {media_type.split(";")[0]: {"schema": {"type": "string"}}}},
        **documented(404),
    }


def router(system: Mediasift) -> APIRouter:
    api = APIRouter(prefix="/v1/assets/{asset}", tags=["exports"])

    async def exported(asset: str, tenant: str | None, fmt: ExportFormat) -> Response:
        asset_id = await run_in_threadpool(system.resolve, asset, tenant=tenant)
        text = await run_in_threadpool(system.exports.text, asset_id, fmt, tenant=tenant)
        return Response(text, media_type=fmt.media_type, headers={"X-Content-Type-Options": "nosniff"})

    @api.get("/transcript.vtt", response_class=Response, responses=_text(ExportFormat.VTT.media_type))
    async def transcript_vtt(asset: str, tenant: ReadTenant) -> Response:
        """What was said, as WebVTT cues (404 with the reason when the asset has no speech, or its
        transcription has not run or failed)."""
        return await exported(asset, tenant, ExportFormat.VTT)

    @api.get("/transcript.srt", response_class=Response, responses=_text(ExportFormat.SRT.media_type))
    async def transcript_srt(asset: str, tenant: ReadTenant) -> Response:
        """What was said, as SRT subtitles."""
        return await exported(asset, tenant, ExportFormat.SRT)

    @api.get("/ocr.vtt", response_class=Response, responses=_text(ExportFormat.OCR_VTT.media_type))
    async def ocr_vtt(asset: str, tenant: ReadTenant) -> Response:
        """Text shown on screen in a video, as WebVTT cues."""
        return await exported(asset, tenant, ExportFormat.OCR_VTT)

    @api.get("/export.json", responses=documented(404))
    def export_json(asset: str, tenant: ReadTenant) -> AssetExport:
        """Everything known about the asset: metadata, sources, segments by kind, artifacts with
        lineage, operator runs."""
        return system.exports.document(system.resolve(asset, tenant=tenant), tenant=tenant)

    return api
