"""Running one operator on one asset: its context, its timing, and the lineage record of the run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from mediasift.blobs import BlobStore
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import results as result_repo
from mediasift.db.connection import Database
from mediasift.inference.door import Inference
from mediasift.jobs.permits import core_seconds
from mediasift.mediatype import MediaType
from mediasift.pipeline.operator import AssetView, Operator, OperatorContext, params_hash
from mediasift.records import OperatorResult


@dataclass
class Execution:
    run: result_repo.RunRecord
    result: OperatorResult
    blobs: list[tuple[str, int, str]]


def load_asset(conn: Any, asset_id: UUID) -> AssetView:
    return asset_view(stored_asset(conn, asset_id))


def stored_asset(conn: Any, asset_id: UUID) -> asset_repo.AssetRow:
    """The asset's row; KeyError where there is none (deleted)."""
    stored = asset_repo.get_asset(conn, asset_id)
    if stored is None:
        raise KeyError(f"no asset {asset_id}")
    return stored


def asset_view(stored: asset_repo.AssetRow) -> AssetView:
    """What operators see of a stored asset."""
    return AssetView(
        id=stored.id,
        media_type=MediaType(stored.media_type),
        mime=stored.mime,
        sha256=stored.sha256,
        metadata=stored.metadata,
    )


def run_record(
    asset: AssetView,
    op: Operator,
    settings: Settings,
    params: dict[str, Any],
    started: float,
    *,
    status: str = "done",
    error: str | None = None,
    cost: float = 0.0,
    core_started: float | None = None,
) -> result_repo.RunRecord:
    """The run's lineage, from ``started`` (``time.time()``) to now; its core time is counted from
    ``core_started`` (what :func:`core_seconds` said at ``started``; None: no worker counted it)."""
    # The core clock is read before the wall clock here, as after it at the start: the core interval lies
    # inside the wall one (read the other way, a wait for the permits' lock between the two readings
    # counted a 2 ms run 4 ms of core time).
    core_now = core_seconds()
    finished = time.time()
    model = op.model(settings)
    core_s = None if core_started is None or core_now is None else core_now - core_started
    return result_repo.RunRecord(
        asset_id=asset.id,
        operator=op.name,
        operator_version=op.version,
        params=params,
        params_hash=params_hash(params),
        model=model.id if model else None,
        model_version=model.version if model else None,
        started_at=datetime.fromtimestamp(started, UTC),
        finished_at=datetime.fromtimestamp(finished, UTC),
        duration_ms=(finished - started) * 1000,
        core_ms=None if core_s is None else core_s * 1000,
        status=status,
        error=error,
        cost=cost,
    )


def is_fresh(op: Operator, params: dict[str, Any], runs: dict[str, dict[str, Any]], deps: tuple[str, ...]) -> bool:
    """Done with this version and these parameters, and after everything it read was produced."""
    previous = runs.get(op.name)
    if previous is None or previous["status"] != "done":
        return False
    if previous["operator_version"] != op.version or previous["params_hash"] != params_hash(params):
        return False
    return inputs_unchanged_since(runs, deps, previous["started_at"])


def inputs_unchanged_since(runs: dict[str, dict[str, Any]], deps: tuple[str, ...], since: datetime) -> bool:
    """Nothing this operator reads was produced again after ``since``."""
    return all(dep not in runs or runs[dep]["finished_at"] <= since for dep in deps)


@dataclass
class OperatorExecutor:
    """Runs operators of one system: its database, settings, blobs and door to the models."""

    db: Database
    settings: Settings
    blobs: BlobStore
    inference: Inference

    def execute(
        self,
        asset: AssetView,
        op: Operator,
        *,
        interactive: bool = False,
        stored: list[tuple[str, int, str]] | None = None,
    ) -> Execution:
        """Run ``op``; raises whatever the operator raises. Nothing is written to the database.

        Model requests wait the interactive or batch time for company, and the cost of the model calls
        made is the run's cost. The blobs the operator stores (sha256, size, media type) are added to
        ``stored`` as they are, so a caller knows them even when the operator fails later.
        """
        new_blobs = stored if stored is not None else []

        def put_blob(data: bytes, mime: str) -> str:
            sha = self.blobs.put_bytes(data)
            new_blobs.append((sha, len(data), mime))
            return sha

        def put_file(path: Path, mime: str) -> str:
            sha, size = self.blobs.put_file(path)
            new_blobs.append((sha, size, mime))
            return sha

        def read_segments(*, operator: str | None = None, kind: str | None = None) -> list[Any]:
            with self.db.transaction() as conn:
                return result_repo.read_segments(conn, asset.id, operator=operator, kind=kind)

        params = op.params(self.settings)
        ctx = OperatorContext(
            asset=asset,
            settings=self.settings,
            inference=self.inference,
            params=params,
            media_path=self.blobs.local_path(asset.sha256),
            read_segments=read_segments,
            read_blob=self.blobs.read_bytes,
            put_blob=put_blob,
            put_file=put_file,
        )
        started, core_started = time.time(), core_seconds()
        with self.inference.job(interactive=interactive, asset=asset.id) as models:
            result = op.run(ctx)
        cost = result.cost + models.usd
        record = run_record(asset, op, self.settings, params, started, cost=cost, core_started=core_started)
        return Execution(record, result, new_blobs)
