"""The Python API: one object that composes storage, ingest, the job runtime and search.

The CLI (and later the REST API) are thin doors onto this; none of them holds logic it lacks.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from uuid import UUID

from mediasift.blobs import blob_store
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import job_states
from mediasift.db import results as result_repo
from mediasift.db import workers as worker_repo
from mediasift.db.connection import Database
from mediasift.inference import devices, stats, usage
from mediasift.ingest.service import Accepted, Ingestor, Refused, expand_paths
from mediasift.jobs.breaker import CircuitBreakers
from mediasift.jobs.broker import Broker, open_broker
from mediasift.jobs.model import DeadLetter, Lane
from mediasift.jobs.runtime import RetryPolicy, Worker
from mediasift.obs.quality import confidence_report
from mediasift.pipeline.execute import load_asset
from mediasift.pipeline.failures import classify
from mediasift.pipeline.graph import default_pipeline
from mediasift.pipeline.jobs import JOB_KIND, PipelineJobs
from mediasift.pipeline.operator import Operator
from mediasift.search.hits import Hit
from mediasift.search.hybrid import SearchMode, search
from mediasift.search.similar import SimilarAsset, similar

BACKPRESSURE_CHECK_EVERY = 25


class AssetNotFound(LookupError):
    pass


@dataclass
class IngestReport:
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    status: dict[UUID, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        accepted = []
        for a in self.accepted:
            item: dict[str, Any] = {
                "path": a.path, "asset_id": str(a.asset_id), "media_type": a.media_type, "duplicate": a.duplicate,
            }  # fmt: skip
            item.update(self.status.get(a.asset_id, {}))
            accepted.append(item)
        return {"accepted": accepted, "rejected": [{"path": r.path, "reason": r.reason} for r in self.refused]}

    @property
    def failed(self) -> list[UUID]:
        return [asset_id for asset_id, s in self.status.items() if s.get("status") == "failed"]


class Mediasift:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.db = Database(self.settings)
        self.blobs = blob_store(self.settings)
        self.pipeline = default_pipeline(self.settings.operator_plugins)
        stats.set_compute_price(self.settings.compute_usd_per_hour)

    @cached_property
    def broker(self) -> Broker:
        return open_broker(
            self.settings.broker_url,
            database_url=self.db.url,
            lease_s=self.settings.lease_s,
            namespace=self.settings.queue_namespace,
        )

    @cached_property
    def jobs(self) -> PipelineJobs:
        return PipelineJobs(self.db, self.settings, self.blobs, self.pipeline, self.broker)

    def close(self) -> None:
        if "broker" in self.__dict__:
            self.broker.close()

    # -- workers ------------------------------------------------------------------------------------

    def worker(
        self,
        *,
        concurrency: int | None = None,
        lanes: Sequence[Lane] = (Lane.INTERACTIVE, Lane.BATCH),
        operators: set[str] | None = None,
        register: bool = True,
        worker_id: str | None = None,
    ) -> Worker:
        """A worker over this system's broker. Registered workers announce themselves and heartbeat,
        so ``status`` can show them and ``ingest --wait`` knows to leave the work to them."""
        s = self.settings
        worker_id = worker_id or f"{os.uname().nodename}-{os.getpid()}-{os.urandom(2).hex()}"
        concurrency = concurrency or s.worker_concurrency
        if operators is not None and (unknown := operators - set(self.pipeline.operators)):
            raise ValueError(f"unknown operators: {', '.join(sorted(unknown))}")
        worker = Worker(
            self.broker,
            {JOB_KIND: self.jobs.handle},
            worker_id=worker_id,
            classify=classify,
            concurrency=concurrency,
            lanes=lanes,
            groups=operators,
            dependency_of=self.jobs.dependency_of,
            hooks=self.jobs,
            retry=RetryPolicy(s.retry_base_s, s.retry_cap_s),
            breakers=CircuitBreakers(s.breaker_threshold, s.breaker_cooldown_s),
            on_heartbeat=self._beat if register else None,
        )
        if register:
            with self.db.transaction() as conn:
                worker_repo.register(conn, worker_id, self.broker.name, [lane.value for lane in lanes], concurrency)
        return worker

    def _beat(self, worker: Worker) -> None:
        with self.db.transaction() as conn:
            worker_repo.beat(conn, worker.id, worker.in_flight, worker.stats.processed, worker.stats.failed)

    def worker_stopped(self, worker: Worker) -> None:
        with self.db.transaction() as conn:
            worker_repo.stopped(conn, worker.id)

    def models(self) -> list[dict[str, Any]]:
        """Every model: its declaration, its state here, and its counters summed over all processes."""
        from mediasift.inference import catalog

        with self.db.connect() as conn:
            counters = usage.read(conn)
        return catalog.listing(self.settings, counters)

    def model_problems(self) -> dict[str, str]:
        """Models whose files are missing (declared ones: shipped and configured), with the fix."""
        from mediasift.inference import catalog

        return catalog.declared(self.settings).check()

    def workers_alive(self) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            return worker_repo.alive(conn)

    # -- ingest -------------------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[Path],
        *,
        wait: bool = False,
        lane: Lane | None = None,
        on_file: Callable[[Path, Accepted | Refused], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> IngestReport:
        """Register every file and queue its analysis; with ``wait``, return when it is done.

        With no worker running, the work is done here, through the same runtime. When the queue is
        deeper than the high-water mark, ingest waits (or works) until it is back under the
        low-water mark, so neither the queue nor memory grows without bound."""
        files = list(expand_paths(paths))
        lane = lane or (Lane.INTERACTIVE if len(files) <= self.settings.interactive_max_files else Lane.BATCH)
        ingestor = Ingestor(self.db, self.settings, self.blobs)
        report = IngestReport()
        for index, path in enumerate(files):
            if index % BACKPRESSURE_CHECK_EVERY == 0:
                self._hold_back(on_wait)
            outcome = self._register(ingestor, path, None, lane, report)
            if on_file:
                on_file(path, outcome)
        if wait:
            self._wait_into(report, on_wait)
        return report

    def ingest_received(self, path: Path, source: str, *, wait: bool = False) -> IngestReport:
        """One file received from elsewhere (an upload, a download), recorded as coming from
        ``source``; queued on the interactive lane, after the same back-pressure as ``ingest``."""
        self._hold_back(None)
        report = IngestReport()
        ingestor = Ingestor(self.db, self.settings, self.blobs, actor="api")
        self._register(ingestor, path, source, Lane.INTERACTIVE, report)
        if wait:
            self._wait_into(report, None)
        return report

    def _register(
        self, ingestor: Ingestor, path: Path, source: str | None, lane: Lane, report: IngestReport
    ) -> Accepted | Refused:
        outcome = ingestor.ingest_file(path, source)
        if isinstance(outcome, Accepted):
            report.accepted.append(outcome)
            if not outcome.duplicate or self._never_queued(outcome.asset_id):
                self.jobs.enqueue([outcome.asset_id], lane)
        else:
            report.refused.append(outcome)
        return outcome

    def _wait_into(self, report: IngestReport, on_wait: Callable[[str], None] | None) -> None:
        self.wait_for([a.asset_id for a in report.accepted], on_wait=on_wait)
        report.status = self.asset_states([a.asset_id for a in report.accepted])

    def _never_queued(self, asset_id: UUID) -> bool:
        with self.db.connect() as conn:
            return not job_states.states(conn, asset_id)

    def _hold_back(self, on_wait: Callable[[str], None] | None) -> None:
        depth = self.broker.stats().depth
        if depth < self.settings.queue_high_water:
            return
        low = self.settings.queue_low_water
        if on_wait:
            on_wait(f"queue holds {depth} jobs (high-water mark {self.settings.queue_high_water}); "
                    f"waiting until it is under {low}")  # fmt: skip
        if self.workers_alive():
            while self.broker.stats().depth > low:
                time.sleep(1.0)
        else:
            self.run_inline(until=lambda: self.broker.stats().depth <= low)

    def wait_for(self, asset_ids: Sequence[UUID], *, on_wait: Callable[[str], None] | None = None) -> None:
        """Return when every one of these assets is done or failed."""
        unique = list(dict.fromkeys(asset_ids))

        def finished() -> bool:
            with self.db.connect() as conn:
                return job_states.unfinished(conn, unique) == 0

        while not finished():
            if self.workers_alive():
                time.sleep(0.5)
            else:
                if on_wait:
                    on_wait("no worker is running: analysing here")
                self.run_inline(until=finished)

    def run_inline(self, until: Callable[[], bool]) -> None:
        """Work through the queue in this process until ``until()`` holds (checked when idle)."""
        worker = self.worker(register=False, worker_id=f"inline-{os.getpid()}")
        worker.run(until=until)

    def process_pending(self) -> list[UUID]:
        """Queue assets that were registered but never queued, and work until nothing is left."""
        with self.db.connect() as conn:
            orphans = job_states.assets_without_jobs(conn)
        self.jobs.enqueue(orphans, Lane.BATCH)
        self.run_inline(until=lambda: (s := self.broker.stats()).depth == 0 and s.in_flight == 0)
        return orphans

    def reprocess(
        self,
        *,
        operator: str | None = None,
        media_type: str | None = None,
        errors_only: bool = False,
        lane: Lane = Lane.BATCH,
    ) -> dict[str, Any]:
        """Queue what is missing or stale against stored lineage, and only that; return what was queued
        per operator and the assets concerned."""
        queued: dict[str, int] = {}
        plans = self.stale(operator=operator, media_type=media_type, errors_only=errors_only)
        for asset_id, plan in plans.items():
            self.jobs.requeue(asset_id, plan, lane)
            for op in plan:
                queued[op.name] = queued.get(op.name, 0) + 1
        return {"queued": queued, "assets": list(plans)}

    def stale(
        self, *, operator: str | None = None, media_type: str | None = None, errors_only: bool = False
    ) -> dict[UUID, list[Operator]]:
        """Per asset, the operators whose results are missing or stale by this process's settings
        (their version, parameters and models), or that failed (``errors_only``: only those)."""
        if operator is not None and operator not in self.pipeline.operators:
            raise ValueError(f"unknown operator {operator!r}")
        plans: dict[UUID, list[Operator]] = {}
        for stored in self.list_assets(media_type=media_type):
            with self.db.connect() as conn:
                asset = load_asset(conn, stored.id)
                runs = result_repo.read_runs(conn, stored.id)
            plan = self.jobs.plan(asset, runs, only=operator, errors_only=errors_only)
            if plan:
                plans[stored.id] = plan
        return plans

    def asset_states(self, asset_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
        out: dict[UUID, dict[str, Any]] = {}
        with self.db.connect() as conn:
            for asset_id in dict.fromkeys(asset_ids):
                asset = asset_repo.get_asset(conn, asset_id)
                states = job_states.states(conn, asset_id)
                out[asset_id] = {
                    "status": asset.status if asset else "missing",
                    "failed": {op: row["error"] for op, row in states.items() if row["state"] in ("dead", "failed")},
                }
        return out

    # -- dead letters ---------------------------------------------------------------------------------

    def dead_letters(self, operator: str | None = None) -> list[DeadLetter]:
        letters = self.broker.dead_letters(limit=100_000)
        return [d for d in letters if operator is None or d.job.group == operator]

    def redrive(self, job_ids: Sequence[str] | None = None, operator: str | None = None) -> int:
        """Queue dead jobs again from attempt 1: the ones named, or all (of one operator)."""
        letters = self.dead_letters(operator)
        chosen = [d for d in letters if job_ids is None or d.job.id in job_ids]
        count = self.broker.redrive([d.job.id for d in chosen])
        self.jobs.on_redrive(d.job for d in chosen)
        return count

    def job(self, job_id: str) -> dict[str, Any]:
        """A job's state in its asset's pipeline, and its dead letter if it has one."""
        asset_ref, _, operator = job_id.partition(":")
        with self.db.connect() as conn:
            states = job_states.states(conn, UUID(asset_ref)) if operator else {}
        dead = next((d for d in self.dead_letters() if d.job.id == job_id), None)
        state = states.get(operator)
        if state is None and dead is None:
            raise AssetNotFound(f"no job {job_id!r}")
        return {"job_id": job_id, "state": state, "dead_letter": dead.to_json() if dead else None}

    # -- reading --------------------------------------------------------------------------------------

    def search(
        self, query: str, *, limit: int = 10, media_type: str | None = None, mode: SearchMode = SearchMode.HYBRID
    ) -> list[Hit]:
        return search(self.db, query, limit=limit, media_type=media_type, mode=mode)

    def similar(self, asset_id: UUID, *, limit: int = 10) -> list[SimilarAsset]:
        return similar(self.db, asset_id, limit=limit)

    def resolve(self, asset_ref: str) -> UUID:
        """An asset id from a full id or an unambiguous prefix of one."""
        with self.db.connect() as conn:
            matches = asset_repo.find_assets_by_prefix(conn, asset_ref.strip())
        if len(matches) != 1:
            raise AssetNotFound(
                f"no asset with id {asset_ref!r}" if not matches else f"{asset_ref!r} matches several assets"
            )
        return matches[0]

    def list_assets(self, *, media_type: str | None = None, status: str | None = None) -> list[asset_repo.AssetRow]:
        with self.db.connect() as conn:
            return asset_repo.list_assets(conn, media_type=media_type, status=status, limit=10_000_000)

    def blob(self, sha256: str) -> tuple[bytes, str]:
        """A stored blob's bytes and media type (thumbnails, keyframes, originals)."""
        with self.db.connect() as conn:
            mime = asset_repo.blob_mime(conn, sha256)
        if mime is None or not self.blobs.exists(sha256):
            raise AssetNotFound(f"no blob {sha256}")
        return self.blobs.read_bytes(sha256), mime

    def describe(self, asset_id: UUID) -> dict[str, Any]:
        """The asset with its metadata, every artifact with lineage, each operator's run and job state,
        and its audit trail (who or what changed it, when, how)."""
        with self.db.connect() as conn:
            asset = asset_repo.get_asset(conn, asset_id)
            if asset is None:
                raise AssetNotFound(f"no asset with id {asset_id}")
            artifacts = result_repo.read_artifacts(conn, asset_id)
            runs = result_repo.read_runs(conn, asset_id)
            states = job_states.states(conn, asset_id)
            audit = asset_repo.audit_trail(conn, str(asset_id))
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
            "jobs": states,
            "audit": audit,
        }

    def status(self) -> dict[str, Any]:
        with self.db.connect() as conn:
            counts = asset_repo.count_by(conn)
            embeddings = result_repo.count_embeddings(conn)
            job_counts = job_states.counts(conn)
            workers = worker_repo.alive(conn)
            models = usage.read(conn)
            costs = result_repo.cost_by_media_type(conn)
            confidence = confidence_report(conn, self.settings)
        queue = self.broker.stats()
        by_type: dict[str, dict[str, int]] = {}
        for row in counts:
            by_type.setdefault(row["media_type"], {})[row["status"]] = row["n"]
        by_operator: dict[str, dict[str, dict[str, int]]] = {}
        for row in job_counts:
            by_operator.setdefault(row["lane"], {}).setdefault(row["operator"], {})[row["state"]] = row["n"]
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
            "queue": {
                "broker": self.broker.name,
                "ready": queue.ready,
                "delayed": queue.delayed,
                "in_flight": queue.in_flight,
                "dead": queue.dead,
                "depth": queue.depth,
                "high_water": self.settings.queue_high_water,
                "jobs": by_operator,
            },
            "workers": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in w.items()} for w in workers],
            "embeddings": {row["model"]: {"dim": row["dim"], "count": row["n"]} for row in embeddings},
            "models": models,
            "confidence": confidence,
            "cost": {
                row["media_type"]: {
                    "assets": row["assets"],
                    "total_usd": float(row["cost_usd"] or 0.0),
                    "per_asset_usd": float(row["cost_usd"] or 0.0) / row["assets"],
                    "processing_s_per_asset": float(row["duration_ms"] or 0.0) / 1000 / row["assets"],
                }
                for row in costs
            },
            "gpus": [dataclasses.asdict(gpu) for gpu in devices.gpu_stats()],
        }
