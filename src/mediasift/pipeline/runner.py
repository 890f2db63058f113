"""Runs an asset's pipeline in-process: only what is missing or stale, each result written atomically.

Staleness is read from stored lineage: an operator runs again when its version or parameters
changed, when it failed before, or when something it depends on ran in this pass.
"""

from __future__ import annotations

import logging
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from mediasift.blobs import BlobStore
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import results as result_repo
from mediasift.db.connection import Database
from mediasift.mediatype import MediaType
from mediasift.pipeline.graph import Pipeline
from mediasift.pipeline.operator import AssetView, Operator, OperatorContext, params_hash

log = logging.getLogger(__name__)

ERROR_TEXT_LIMIT = 4000


@dataclass
class AssetOutcome:
    asset_id: UUID
    status: str
    ran: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _lock_key(asset_id: UUID) -> int:
    """A 63-bit advisory lock key per asset, so two runners never work on one asset at once."""
    return zlib.crc32(asset_id.bytes) | (0x4D53 << 32)


class PipelineRunner:
    def __init__(self, db: Database, settings: Settings, blobs: BlobStore, pipeline: Pipeline) -> None:
        self.db = db
        self.settings = settings
        self.blobs = blobs
        self.pipeline = pipeline

    def process(
        self, asset_id: UUID, *, on_step: Callable[[str], None] | None = None, actor: str = "pipeline"
    ) -> AssetOutcome:
        with self.db.connect() as lock_conn:
            lock_conn.autocommit = True
            row = lock_conn.execute(
                "SELECT pg_try_advisory_lock(%s) AS ok", (_lock_key(asset_id),)
            ).fetchone()
            if not row or not row["ok"]:
                return AssetOutcome(asset_id, "processing")
            try:
                return self._process_locked(asset_id, on_step, actor)
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(asset_id),))

    def _process_locked(
        self, asset_id: UUID, on_step: Callable[[str], None] | None, actor: str
    ) -> AssetOutcome:
        with self.db.transaction() as conn:
            asset_repo.set_actor(conn, actor)
            stored = asset_repo.get_asset(conn, asset_id)
            if stored is None:
                raise KeyError(f"no asset {asset_id}")
            runs = result_repo.read_runs(conn, asset_id)
            asset_repo.set_status(conn, asset_id, "processing")
        asset = AssetView(
            id=stored.id,
            media_type=MediaType(stored.media_type),
            mime=stored.mime,
            sha256=stored.sha256,
            metadata=stored.metadata,
        )
        outcome = AssetOutcome(asset_id, "done")
        rerun: set[str] = set()
        unavailable: set[str] = set()
        for op in self.pipeline.for_media(asset.media_type):
            if not op.applies(asset):
                continue
            deps = op.requires(asset.media_type)
            broken = [dep for dep in deps if dep in unavailable]
            params = op.params(self.settings)
            previous = runs.get(op.name)
            fresh = (
                previous is not None
                and previous["status"] == "done"
                and previous["operator_version"] == op.version
                and previous["params_hash"] == params_hash(params)
                and not any(dep in rerun for dep in deps)
            )
            if fresh and not broken:
                continue
            if on_step:
                on_step(op.name)
            error: str | None
            if broken:
                error = f"not run: {', '.join(broken)} failed"
                self._record_failure(asset, op, params, error, time.time(), actor)
            else:
                error = self._run_one(asset, op, params, actor)
            if error is None:
                rerun.add(op.name)
                outcome.ran.append(op.name)
            else:
                unavailable.add(op.name)
                outcome.failed[op.name] = error
        outcome.status = "failed" if outcome.failed else "done"
        with self.db.transaction() as conn:
            asset_repo.set_actor(conn, actor)
            asset_repo.set_status(conn, asset_id, outcome.status)
        return outcome

    def _run_one(self, asset: AssetView, op: Operator, params: dict[str, Any], actor: str) -> str | None:
        """Run one operator and store its result; return the error text if it failed."""
        new_blobs: list[tuple[str, int, str]] = []

        def put_blob(data: bytes, mime: str) -> str:
            sha = self.blobs.put_bytes(data)
            new_blobs.append((sha, len(data), mime))
            return sha

        def read_segments(*, operator: str | None = None, kind: str | None = None) -> list[Any]:
            with self.db.connect() as conn:
                return result_repo.read_segments(conn, asset.id, operator=operator, kind=kind)

        ctx = OperatorContext(
            asset=asset,
            settings=self.settings,
            params=params,
            media_path=self.blobs.local_path(asset.sha256),
            read_segments=read_segments,
            read_blob=self.blobs.read_bytes,
            put_blob=put_blob,
        )
        started = time.time()
        try:
            result = op.run(ctx)
        except Exception as exc:
            log.debug("operator %s failed on %s", op.name, asset.id, exc_info=True)
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"[:ERROR_TEXT_LIMIT]
            self._record_failure(asset, op, params, error, started, actor)
            return f"{type(exc).__name__}: {exc}"
        run = self._run_record(asset, op, params, started, cost=result.cost)
        with self.db.transaction() as conn:
            asset_repo.set_actor(conn, actor)
            result_repo.replace_results(conn, run, result, new_blobs)
        return None

    def _record_failure(
        self, asset: AssetView, op: Operator, params: dict[str, Any], error: str, started: float, actor: str
    ) -> None:
        run = self._run_record(asset, op, params, started, status="failed", error=error)
        with self.db.transaction() as conn:
            asset_repo.set_actor(conn, actor)
            result_repo.record_failure(conn, run)

    @staticmethod
    def _run_record(
        asset: AssetView,
        op: Operator,
        params: dict[str, Any],
        started: float,
        *,
        status: str = "done",
        error: str | None = None,
        cost: float = 0.0,
    ) -> result_repo.RunRecord:
        finished = time.time()
        return result_repo.RunRecord(
            asset_id=asset.id,
            operator=op.name,
            operator_version=op.version,
            params=params,
            params_hash=params_hash(params),
            model=op.model.id if op.model else None,
            model_version=op.model.version if op.model else None,
            started_at=datetime.fromtimestamp(started, UTC),
            finished_at=datetime.fromtimestamp(finished, UTC),
            duration_ms=(finished - started) * 1000,
            status=status,
            error=error,
            cost=cost,
        )
