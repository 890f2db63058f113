"""The pipeline as jobs: one job per (asset, operator); finishing one queues the operators that were
waiting for it. Results, the job's completion and the follow-up jobs commit in one transaction
where the broker is PostgreSQL; elsewhere results commit first and the job is acked after its
follow-ups are published, so a crash in between repeats work (idempotently) but loses none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from mediasift import telemetry
from mediasift.blobs import BlobStore
from mediasift.config import Settings
from mediasift.db import assets as asset_repo
from mediasift.db import erasure, job_states, outbox
from mediasift.db import results as result_repo
from mediasift.db.connection import Database
from mediasift.errors import PermanentError, TransientError
from mediasift.inference import usage
from mediasift.inference.door import Inference
from mediasift.jobs.broker import Broker
from mediasift.jobs.model import Failure, Job, Lane
from mediasift.jobs.runtime import JobContext
from mediasift.pipeline import people
from mediasift.pipeline.execute import (
    OperatorExecutor,
    asset_view,
    inputs_unchanged_since,
    is_fresh,
    load_asset,
    run_record,
    stored_asset,
)
from mediasift.pipeline.graph import Pipeline
from mediasift.pipeline.operator import AssetView, Operator

log = logging.getLogger(__name__)

JOB_KIND = "operator"
MAX_INPUT_CHANGES = 3
# The event an asset's analysis ends with, by the status it ends in.
FINAL_EVENTS = {"done": outbox.ANALYSED, "failed": outbox.FAILED}


class PipelineJobs:
    """Handler and hooks for the worker runtime, and the queueing of an asset's first operators."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        blobs: BlobStore,
        pipeline: Pipeline,
        broker: Broker,
        inference: Inference,
    ) -> None:
        self.db = db
        self.settings = settings
        self.pipeline = pipeline
        self.broker = broker
        self.blobs = blobs
        self.executor = OperatorExecutor(db, settings, blobs, inference)

    # -- queueing ---------------------------------------------------------------------------------

    def job_for(self, asset_id: UUID, op: Operator, lane: Lane, traceparent: str | None = None) -> Job:
        """The job of ``op`` on the asset; ``traceparent`` (the asset's trace) rides in its payload."""
        payload = {"asset_id": str(asset_id), "operator": op.name, "version": op.version}
        if traceparent:
            payload[telemetry.TRACEPARENT] = traceparent
        return Job(
            id=f"{asset_id}:{op.name}",
            kind=JOB_KIND,
            lane=lane,
            group=op.name,
            payload=payload,
            max_attempts=self.settings.max_attempts,
            timeout_s=self.settings.job_timeout_s,
        )

    def _deps(self, op: Operator, asset: AssetView) -> tuple[str, ...]:
        return self.pipeline.dependencies(op, asset.media_type)

    def _applicable(self, asset: AssetView) -> list[Operator]:
        operators = self.pipeline.for_media(asset.media_type)
        return [op for op in operators if op.applies(asset) and op.enabled(self.settings)]

    def roots(self, asset: AssetView) -> list[Operator]:
        """The operators that wait for nothing this asset needs."""
        names = {op.name for op in self._applicable(asset)}
        return [op for op in self._applicable(asset) if not names & set(self._deps(op, asset))]

    def enqueue(self, asset_ids: Iterable[UUID], lane: Lane) -> int:
        """Queue the first operators of each asset (one deleted meanwhile has none); return how many
        jobs were queued."""
        queued = 0
        for asset_id in asset_ids:
            with self.db.transaction() as conn:
                job_states.lock_asset(conn, asset_id, actor="ingest")
                try:
                    asset = load_asset(conn, asset_id)
                except KeyError:
                    continue
                roots = self.roots(asset)
                job_states.set_state(conn, asset_id, [op.name for op in roots], "queued", lane=lane.value)
                trace = telemetry.traceparent()
                jobs = [self.job_for(asset_id, op, lane, trace) for op in roots]
                self._publish(conn, jobs)
            queued += len(jobs)
        return queued

    def plan(
        self, asset: AssetView, runs: dict[str, dict[str, Any]], *, only: str | None = None, errors_only: bool = False
    ) -> list[Operator]:
        """The operators to queue so that the asset's results match the pipeline as declared: those
        missing or stale against stored lineage (version, parameters, inputs made after them, a
        failure), less those waiting on another stale one (they follow when it finishes)."""
        stale: set[str] = set()
        frontier: list[Operator] = []
        applicable = {op.name for op in self._applicable(asset)}
        for op in self._applicable(asset):
            deps = tuple(d for d in self._deps(op, asset) if d in applicable)
            run = runs.get(op.name)
            failed = run is not None and run["status"] == "failed"
            needed = failed if errors_only else not is_fresh(op, op.params(self.settings), runs, deps)
            if only is not None and op.name != only:
                needed = False
            if any(d in stale for d in deps):
                stale.add(op.name)
                continue
            if needed:
                stale.add(op.name)
                frontier.append(op)
        return frontier

    def requeue(self, asset_id: UUID, operators: list[Operator], lane: Lane) -> list[Job]:
        """Queue these operators of one asset again (dead ones leave the dead-letter queue)."""
        jobs = [self.job_for(asset_id, op, lane) for op in operators]
        self.broker.redrive([job.id for job in jobs])
        with self.db.transaction() as conn:
            asset_repo.set_actor(conn, "reprocess")
            job_states.set_state(conn, asset_id, [op.name for op in operators], "queued", lane=lane.value)
            asset_repo.set_status(conn, asset_id, "processing")
            self._publish(conn, jobs)
        return jobs

    def _publish(self, conn: Any, jobs: list[Job]) -> None:
        publish_within = getattr(self.broker, "publish_within", None)
        if publish_within is not None:
            publish_within(conn, jobs)
        else:
            conn.commit()
            self.broker.publish(jobs)

    # -- the handler --------------------------------------------------------------------------------

    def dependency_of(self, job: Job) -> str | None:
        """The model a job needs, which is what its circuit breaker guards."""
        op = self.pipeline.operators.get(job.group)
        model = op.model(self.settings) if op is not None else None
        return model.id if model is not None else None

    def handle(self, job: Job, ctx: JobContext) -> None:
        """Run the job's operator on its asset and record the results. A job whose asset was deleted
        (before it started, while it ran, or while it failed) ends as a no-op: nothing is recorded,
        the model results it cached and the blobs it stored that nothing references are removed, and
        it is neither retried nor buried, whatever its failure was (a missing file, a foreign key)."""
        asset_id = UUID(job.payload["asset_id"])
        telemetry.tag(asset_id=str(asset_id))
        stored: list[tuple[str, int, str]] = []
        try:
            self._handle(job, ctx, asset_id, stored)
        except Exception:
            if not self._deleted(asset_id):
                raise
            log.info("job %s: its asset was deleted; nothing to do", job.id)
            with self.db.transaction() as conn:
                erasure.forget_cached_results(conn, asset_id)
            erasure.remove_unreferenced_bytes(self.db, [sha for sha, _, _ in stored], self.blobs.delete)

    def _deleted(self, asset_id: UUID) -> bool:
        with self.db.transaction() as conn:
            return asset_repo.get_asset(conn, asset_id) is None

    def _handle(self, job: Job, ctx: JobContext, asset_id: UUID, stored: list[tuple[str, int, str]]) -> None:
        op = self.pipeline.operators.get(job.payload["operator"])
        if op is None:
            raise PermanentError(f"this worker's pipeline has no operator {job.payload['operator']!r}")
        lane, actor = job.lane.value, f"worker:{job.id}"
        # This transaction only marks the job running (and the asset processing). A crash of the server
        # may undo that (the job shows queued) only while the job is bound to be delivered again, so
        # its commit need not wait for the disk while the asset's other jobs wait for its lock.
        with self.db.transaction() as conn:
            job_states.lock_asset(conn, asset_id, actor=actor, durable=False)
            row = stored_asset(conn, asset_id)
            asset = asset_view(row)
            deps = self._deps(op, asset)
            runs = result_repo.read_runs(conn, asset_id)
            # Running, this job keeps the asset processing until it ends: every status set meanwhile
            # (:meth:`_refresh_status` of its other jobs) sees it active.
            processing = not self._already_done(conn, asset_id, op, deps, runs)
            if processing:
                job_states.set_state(
                    conn, asset_id, [op.name], "running", lane=lane, attempts=ctx.delivery.attempt, worker=ctx.worker_id
                )
                if row.status != "processing":
                    asset_repo.set_status(conn, asset_id, "processing")
        for attempt in range(MAX_INPUT_CHANGES):
            if attempt:  # an input was re-made while the operator ran: what it reads now
                with self.db.transaction() as conn:
                    runs = result_repo.read_runs(conn, asset_id)
            execution = None
            if not is_fresh(op, op.params(self.settings), runs, deps):
                with ctx.computing():
                    execution = self.executor.execute(
                        asset, op, interactive=job.lane is Lane.INTERACTIVE, stored=stored
                    )
            basis = execution.run.started_at if execution else runs[op.name]["started_at"]
            if ctx.cancelled.is_set():
                return
            with self.db.transaction() as conn:
                job_states.lock_asset(conn, asset_id, actor=actor)
                if execution is not None:
                    self._check_blobs(conn, execution.blobs)
                runs = result_repo.read_runs(conn, asset_id)
                if not inputs_unchanged_since(runs, deps, basis):
                    continue  # an input was re-made while this ran: its result is already stale
                if execution is not None and is_fresh(op, op.params(self.settings), runs, deps):
                    # Another delivery of this job (a lease that ran out under a slow worker) finished
                    # first: its results stand, and those made from them are not made again.
                    execution = None
                if execution is not None:
                    runs[op.name] = result_repo.replace_results(
                        conn, execution.run, execution.result, execution.blobs, previous=op.name in runs
                    )
                    if execution.result.faces:
                        people.assign_new_faces(conn, asset_id)
                job_states.set_state(
                    conn, asset_id, [op.name], "done", lane=lane, attempts=ctx.delivery.attempt, worker=ctx.worker_id
                )
                ctx.complete_within(conn)
                usage.flush(conn)
                # Read once, under the asset's lock: the states change below only by this transaction.
                states = {name: row["state"] for name, row in job_states.states(conn, asset_id).items()}
                ready = self._ready_dependents(asset, op, states, runs)
                if ready:
                    job_states.set_state(conn, asset_id, [d.name for d in ready], "queued", lane=lane)
                    states.update((d.name, "queued") for d in ready)
                    trace = job.payload.get(telemetry.TRACEPARENT)
                    ctx.publish_within(conn, [self.job_for(asset_id, d, job.lane, trace) for d in ready])
                self._refresh_status(conn, asset, states, was="processing" if processing else None)
                return
        raise TransientError(f"the inputs of {op.name} kept changing while it ran")

    def _already_done(
        self, conn: Any, asset_id: UUID, op: Operator, deps: tuple[str, ...], runs: dict[str, dict[str, Any]]
    ) -> bool:
        """Done, and made after everything it reads: a delivery of a job that committed but was not
        acked (its worker killed in between). Such a delivery only sends the follow-up jobs that may
        not have been sent; it does not mark the asset as processing again, so the asset's analysis
        does not end (and its event is not written) a second time."""
        if not is_fresh(op, op.params(self.settings), runs, deps):
            return False  # the usual case, known without reading the job's state
        return job_states.states(conn, asset_id).get(op.name, {}).get("state") == "done"

    def _check_blobs(self, conn: Any, blobs: list[tuple[str, int, str]]) -> None:
        """Under their locks (held to the commit), that the blobs about to be recorded still have their
        bytes: a deletion of another asset over the same bytes may have removed them since the
        operator stored them (see db/erasure.py). If so, the job is tried again."""
        if not blobs:
            return
        digests = [sha for sha, _, _ in blobs]
        erasure.lock_blobs(conn, digests)
        for sha in erasure.missing_blob_rows(conn, digests):
            if not self.blobs.exists(sha):
                raise TransientError(f"blob {sha} was removed by a deletion while the operator ran")

    def _ready_dependents(
        self, asset: AssetView, finished: Operator, states: dict[str, str], runs: dict[str, dict[str, Any]]
    ) -> list[Operator]:
        """The operators waiting on ``finished`` whose inputs are now all done. One already marked
        queued is included: with Redis or NATS its job is published after this commits, so a worker
        killed in between leaves it marked but never sent, and the redelivered job must send it (a
        second copy of a job that was sent is harmless: brokers drop or results skip it). One running
        or retrying has its job in hand; one done after all its inputs were made needs nothing."""
        applicable = {op.name: op for op in self._applicable(asset)}
        ready = []
        for op in applicable.values():
            deps = [d for d in self._deps(op, asset) if d in applicable]
            if finished.name not in deps:
                continue
            state = states.get(op.name)
            if state in ("running", "retrying"):
                continue
            if state == "done" and is_fresh(op, op.params(self.settings), runs, tuple(deps)):
                continue  # made after everything it reads: a repeated delivery of ``finished`` changed nothing
            if all(states.get(d) == "done" for d in deps):
                ready.append(op)
        return ready

    def _refresh_status(self, conn: Any, asset: AssetView, states: dict[str, str], was: str | None = None) -> None:
        """Set the asset's status from its jobs' ``states`` (operator: state, as they stand in this
        transaction), unless it is ``was``, the status the caller knows the asset has. When the analysis
        has just ended (the status became done or failed), its event is written in this same
        transaction."""
        names = [op.name for op in self._applicable(asset)]
        if any(states.get(n) in job_states.ACTIVE for n in names):
            status = "processing"
        elif all(states.get(n) == "done" for n in names):
            status = "done"
        else:
            status = "failed"
        if status == was:
            return
        if asset_repo.set_status(conn, asset.id, status) and status in FINAL_EVENTS:
            tenant = asset_repo.tenants_of(conn, [asset.id])[asset.id]
            payload = {"status": status, "media_type": asset.media_type.value, **outbox.asset_summary(conn, asset.id)}
            outbox.add_event(conn, FINAL_EVENTS[status], tenant, asset.id, payload, sinks=self.settings.event_sinks)

    # -- hooks --------------------------------------------------------------------------------------

    def on_retry(self, job: Job, attempt: int, failure: Failure, delay_s: float) -> None:
        if job.kind != JOB_KIND:
            return
        asset_id = UUID(job.payload["asset_id"])
        with self.db.transaction() as conn:
            job_states.lock_asset(conn, asset_id, actor=f"worker:{job.id}")
            if asset_repo.get_asset(conn, asset_id) is None:
                return  # deleted: its job states went with it
            job_states.set_state(
                conn, asset_id, [job.group], "retrying", lane=job.lane.value, attempts=attempt,
                error_class=failure.error_class.value, error=failure.message,
            )  # fmt: skip
            usage.flush(conn)

    def on_dead(self, job: Job, attempt: int, failure: Failure) -> None:
        """A dead job leaves a failed run (no stale results) and the asset marked failed."""
        if job.kind != JOB_KIND:
            return
        asset_id = UUID(job.payload["asset_id"])
        op = self.pipeline.operators.get(job.group)
        with self.db.transaction() as conn:
            job_states.lock_asset(conn, asset_id, actor=f"worker:{job.id}")
            try:
                asset = load_asset(conn, asset_id)
            except KeyError:
                return  # deleted: its job states went with it
            job_states.set_state(
                conn, asset_id, [job.group], "dead", lane=job.lane.value, attempts=attempt,
                error_class=failure.error_class.value, error=failure.message,
            )  # fmt: skip
            usage.flush(conn)
            if op is not None:
                params = op.params(self.settings)
                record = run_record(
                    asset, op, self.settings, params, time.time(), status="failed", error=failure.message
                )
                result_repo.record_failure(conn, record)
            self._refresh_status(
                conn, asset, {name: row["state"] for name, row in job_states.states(conn, asset_id).items()}
            )

    def on_redrive(self, jobs: Iterable[Job]) -> None:
        """Re-driven jobs are queued again in their assets' job states."""
        with self.db.transaction() as conn:
            asset_repo.set_actor(conn, "redrive")
            for job in jobs:
                if job.kind != JOB_KIND:
                    continue
                asset_id = UUID(job.payload["asset_id"])
                job_states.set_state(conn, asset_id, [job.group], "queued", lane=job.lane.value)
                asset_repo.set_status(conn, asset_id, "processing")
