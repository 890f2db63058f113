"""Exports of an asset: its transcript as WebVTT or SRT, its on-screen text as WebVTT, and all that
is known of it as one JSON document, without the server's paths."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import results as result_repo
from mediasift.db.connection import Database
from mediasift.exports.cues import text_cues, transcript_cues
from mediasift.exports.sources import describe_source, file_folders, redact, redact_tree
from mediasift.exports.subtitles import to_srt, to_vtt
from mediasift.mediatype import MediaType
from mediasift.pipeline.execute import load_asset
from mediasift.pipeline.graph import Pipeline
from mediasift.records import StoredSegment
from mediasift.service_errors import AssetNotFound, NothingToExport
from mediasift.service_models import (
    Artifact,
    AssetExport,
    ExportedSegment,
    ExportedSource,
    ExportFormat,
    OperatorRun,
)


@dataclass(frozen=True)
class TimedText:
    """Timed text an asset may have: the operator and kind of segment that hold it, and what to say
    when the asset cannot have it (per media type, and when the operator does not apply)."""

    operator: str
    kind: str
    noun: str
    not_for: dict[MediaType, str]
    lacking: str


TRANSCRIPT = TimedText(
    "transcribe", "transcript", "transcript",
    {MediaType.IMAGE: "an image has no speech", MediaType.TEXT: "a text document has no speech"},
    "it has no sound track",
)  # fmt: skip
ON_SCREEN_TEXT = TimedText(
    "ocr", "ocr", "on-screen text",
    {MediaType.IMAGE: "no timed on-screen text for an image", MediaType.AUDIO: "an audio file has no on-screen text",
     MediaType.TEXT: "a text document has no on-screen text"},
    "it has no pictures",
)  # fmt: skip


class Exports:
    """The exports of the assets in ``db``, as ``pipeline`` (its operators, under ``settings``)
    explains what an asset lacks."""

    def __init__(self, db: Database, settings: Settings, pipeline: Pipeline) -> None:
        self.db = db
        self.settings = settings
        self.pipeline = pipeline

    def text(self, asset_id: UUID, fmt: ExportFormat, *, tenant: str | None = None) -> str:
        """The asset as ``fmt``: its transcript as WebVTT or SRT (long segments cut at word timings),
        its on-screen text (a video's) as WebVTT, or :meth:`document` as JSON.

        A transcript or on-screen text that was looked for and not found is a file without cues.
        Raises AssetNotFound (also when the asset is not ``tenant``'s), or NothingToExport with the
        reason when the asset cannot have what was asked (an image has no speech) or it has not been
        found yet (not run, or failed)."""
        if fmt is ExportFormat.JSON:
            return self.document(asset_id, tenant=tenant).model_dump_json(indent=2) + "\n"
        if fmt is ExportFormat.OCR_VTT:
            return to_vtt(text_cues(self._timed_text(asset_id, ON_SCREEN_TEXT, tenant)))
        cues = transcript_cues(self._timed_text(asset_id, TRANSCRIPT, tenant))
        return to_vtt(cues) if fmt is ExportFormat.VTT else to_srt(cues)

    def _timed_text(self, asset_id: UUID, wanted: TimedText, tenant: str | None) -> list[StoredSegment]:
        with self.db.transaction() as conn:
            asset = asset_repo.get_asset(conn, asset_id, tenant)
            if asset is None:
                raise AssetNotFound(f"no asset with id {asset_id}")
            run = result_repo.read_runs(conn, asset_id).get(wanted.operator)
            segments = result_repo.read_segments_of_kinds(conn, asset_id, [wanted.kind])
            view = load_asset(conn, asset_id)
        media_type = MediaType(asset.media_type)
        # an animated picture's frames are timed (media/animation.py): its on-screen text has times
        timed_picture = wanted is ON_SCREEN_TEXT and bool(view.metadata.get("animated"))
        if media_type in wanted.not_for and not timed_picture:
            raise NothingToExport(wanted.not_for[media_type])
        if run is None:
            operator = self.pipeline.operators.get(wanted.operator)
            if operator is None or not operator.enabled(self.settings):
                raise NothingToExport(f"no {wanted.noun}: the {wanted.operator} operator is not in this pipeline")
            if not operator.applies(view):
                raise NothingToExport(f"no {wanted.noun}: {wanted.lacking}")
            raise NothingToExport(f"no {wanted.noun} yet: the asset's analysis is {asset.status}")
        if run["status"] != "done":
            error = redact((run["error"] or "").strip().partition("\n")[0], self._roots(asset))
            raise NothingToExport(f"no {wanted.noun}: {wanted.operator} failed" + (f": {error}" if error else ""))
        return segments

    def document(self, asset_id: UUID, *, tenant: str | None = None) -> AssetExport:
        """Everything known about the asset, as one document without the server's paths (see
        :class:`AssetExport`). Raises AssetNotFound (also when the asset is not ``tenant``'s)."""
        with self.db.transaction() as conn:
            asset = asset_repo.get_asset(conn, asset_id, tenant)
            if asset is None:
                raise AssetNotFound(f"no asset with id {asset_id}")
            segments = result_repo.read_segments(conn, asset_id)
            artifacts = result_repo.read_artifacts(conn, asset_id)
            runs = result_repo.read_runs(conn, asset_id)
        roots = self._roots(asset)
        by_kind: dict[str, list[ExportedSegment]] = {}
        for seg in segments:
            by_kind.setdefault(seg.kind, []).append(
                ExportedSegment(
                    operator=seg.operator, key=seg.key, start=seg.start, end=seg.end,
                    region=redact_tree(seg.region, roots), text=redact(seg.text, roots) if seg.text else seg.text,
                    confidence=seg.confidence, data=redact_tree(seg.data, roots),
                )
            )  # fmt: skip
        return AssetExport(
            id=asset.id,
            media_type=asset.media_type,
            mime=asset.mime,
            sha256=asset.sha256,
            size_bytes=asset.size_bytes,
            status=asset.status,
            created_at=asset.created_at,
            sources=[ExportedSource(kind=k, name=n) for k, n in map(describe_source, asset.sources)],
            metadata=redact_tree(asset.metadata, roots),
            segments=by_kind,
            artifacts=[Artifact.model_validate(redact_tree(row, roots)) for row in artifacts],
            operators={name: OperatorRun.model_validate(redact_tree(row, roots)) for name, row in runs.items()},
        )

    def _roots(self, asset: asset_repo.AssetRow) -> list[str]:
        """The folders of this server that an export must not show: the data directory and the
        folders the asset's files were ingested from."""
        return [str(self.settings.home), *file_folders(asset.sources)]
