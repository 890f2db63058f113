"""The Python API: one object that composes storage, ingest, the pipeline and search.

The CLI (and later the REST API) are thin doors onto this; none of them holds logic it lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from mediasift.blobs import blob_store
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import results as result_repo
from mediasift.db.connection import Database
from mediasift.ingest.service import Accepted, Ingestor, Refused, expand_paths
from mediasift.pipeline.graph import default_pipeline
from mediasift.pipeline.runner import AssetOutcome, PipelineRunner
from mediasift.search.semantic import Hit, search


class AssetNotFound(LookupError):
    pass


@dataclass
class IngestReport:
    accepted: list[Accepted]
    refused: list[Refused]
    outcomes: list[AssetOutcome]

    def to_json(self) -> dict[str, Any]:
        status = {o.asset_id: o for o in self.outcomes}
        accepted = []
        for a in self.accepted:
            item: dict[str, Any] = {
                "path": a.path, "asset_id": str(a.asset_id), "media_type": a.media_type,
                "duplicate": a.duplicate,
            }  # fmt: skip
            if a.asset_id in status:
                item["status"] = status[a.asset_id].status
                item["failed"] = status[a.asset_id].failed
            accepted.append(item)
        return {
            "accepted": accepted,
            "rejected": [{"path": r.path, "reason": r.reason} for r in self.refused],
        }


class Mediasift:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.db = Database(self.settings)
        self.blobs = blob_store(self.settings)
        self.pipeline = default_pipeline()
        self.runner = PipelineRunner(self.db, self.settings, self.blobs, self.pipeline)

    def ingest(
        self,
        paths: Iterable[Path],
        *,
        wait: bool = False,
        on_file: Callable[[Path, Accepted | Refused], None] | None = None,
        on_step: Callable[[UUID, str], None] | None = None,
    ) -> IngestReport:
        """Register every file; with ``wait``, also analyse each new or unfinished asset."""
        ingestor = Ingestor(self.db, self.settings, self.blobs)
        report = IngestReport([], [], [])
        for path in expand_paths(paths):
            outcome = ingestor.ingest_file(path)
            (report.accepted if isinstance(outcome, Accepted) else report.refused).append(outcome)  # type: ignore[arg-type]
            if on_file:
                on_file(path, outcome)
        if wait:
            unique = list(dict.fromkeys(a.asset_id for a in report.accepted))
            report.outcomes = [self.process(asset_id, on_step=on_step) for asset_id in unique]
        return report

    def process(self, asset_id: UUID, *, on_step: Callable[[UUID, str], None] | None = None) -> AssetOutcome:
        step = (lambda name: on_step(asset_id, name)) if on_step else None
        return self.runner.process(asset_id, on_step=step)

    def pending(self) -> list[UUID]:
        with self.db.connect() as conn:
            rows = asset_repo.list_assets(conn, status="pending", limit=1_000_000)
            rows += asset_repo.list_assets(conn, status="processing", limit=1_000_000)
        return [row.id for row in rows]

    def search(self, query: str, *, limit: int = 10, media_type: str | None = None) -> list[Hit]:
        return search(self.db, query, limit=limit, media_type=media_type)

    def resolve(self, asset_ref: str) -> UUID:
        """An asset id from a full id or an unambiguous prefix of one."""
        with self.db.connect() as conn:
            matches = asset_repo.find_assets_by_prefix(conn, asset_ref.strip())
        if len(matches) != 1:
            raise AssetNotFound(
                f"no asset with id {asset_ref!r}" if not matches else f"{asset_ref!r} matches several assets"
            )
        return matches[0]

    def list_assets(
        self, *, media_type: str | None = None, status: str | None = None
    ) -> list[asset_repo.AssetRow]:
        with self.db.connect() as conn:
            return asset_repo.list_assets(conn, media_type=media_type, status=status)

    def describe(self, asset_id: UUID) -> dict[str, Any]:
        """The asset with its metadata, every artifact with lineage, and each operator's run."""
        with self.db.connect() as conn:
            asset = asset_repo.get_asset(conn, asset_id)
            if asset is None:
                raise AssetNotFound(f"no asset with id {asset_id}")
            artifacts = result_repo.read_artifacts(conn, asset_id)
            runs = result_repo.read_runs(conn, asset_id)
        return {
            "id": str(asset.id),
            "media_type": asset.media_type,
            "mime": asset.mime,
            "sha256": asset.sha256,
            "size_bytes": asset.size_bytes,
            "status": asset.status,
            "created_at": asset.created_at.isoformat(),
            "sources": asset.sources,
            "metadata": asset.metadata,
            "artifacts": artifacts,
            "operators": runs,
        }

    def status(self) -> dict[str, Any]:
        with self.db.connect() as conn:
            counts = asset_repo.count_by(conn)
            embeddings = result_repo.count_embeddings(conn)
        by_type: dict[str, dict[str, int]] = {}
        for row in counts:
            by_type.setdefault(row["media_type"], {})[row["status"]] = row["n"]
        return {
            "home": str(self.settings.home),
            "database": "external" if self.settings.database_url else "embedded",
            "assets": {
                "total": sum(row["n"] for row in counts),
                "bytes": int(sum(row["bytes"] or 0 for row in counts)),
                "by_media_type": by_type,
                "pending": sum(row["n"] for row in counts if row["status"] in ("pending", "processing")),
                "failed": sum(row["n"] for row in counts if row["status"] == "failed"),
            },
            "embeddings": {row["model"]: {"dim": row["dim"], "count": row["n"]} for row in embeddings},
        }
