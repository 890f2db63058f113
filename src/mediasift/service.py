"""The Python API: one object that composes storage, ingest, the job runtime and search.

The CLI and the HTTP API are thin doors onto this; neither holds logic it lacks. Results are typed
models (:mod:`mediasift.service_models`): the JSON both doors give is theirs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import cv2
from prometheus_client import CollectorRegistry, ProcessCollector

from mediasift import cursors, telemetry
from mediasift.access import DEFAULT_TENANT, Scope, check_tenant_name
from mediasift.blobs import blob_store
from mediasift.config import Settings, available_cores
from mediasift.db import api_audit, connection, erasure, job_states, outbox
from mediasift.db import assets as asset_repo
from mediasift.db import keys as key_repo
from mediasift.db import ops as ops_repo
from mediasift.db import people as people_repo
from mediasift.db import results as result_repo
from mediasift.db import webhooks as webhook_repo
from mediasift.db import workers as worker_repo
from mediasift.db.connection import Database
from mediasift.db.inference_cache import InferenceCacheTable
from mediasift.db.search_filters import NO_FILTERS, AssetFilters
from mediasift.db.server import stop_embedded
from mediasift.events.delivery import WEBHOOK_GROUP, WEBHOOK_KIND, WebhookDelivery, webhook_limits
from mediasift.events.kafka import KafkaSink
from mediasift.events.relay import Relay
from mediasift.events.signing import new_secret
from mediasift.inference import usage
from mediasift.inference.door import Inference
from mediasift.inference.registry import IdleUnloader, pool
from mediasift.ingest.service import Accepted, Ingestor, Refused, expand_paths
from mediasift.jobs.breaker import CircuitBreakers
from mediasift.jobs.broker import Broker, open_broker
from mediasift.jobs.model import DeadLetter, Lane, Limits
from mediasift.jobs.runtime import RetryPolicy, Worker
from mediasift.jobs.topic import open_topic
from mediasift.keyring import KeyRing
from mediasift.media.pictures import decode_picture, perceptual_hash
from mediasift.models import devices
from mediasift.net.addresses import check_public
from mediasift.net.errors import Unacceptable
from mediasift.net.fetch import Hop
from mediasift.net.urls import without_password
from mediasift.obs import metrics, tracing
from mediasift.obs.cost import cost_report, run_seconds
from mediasift.obs.drift import embedding_report, input_mix_report
from mediasift.obs.quality import confidence_report
from mediasift.operators import default_pipeline
from mediasift.pipeline.execute import load_asset
from mediasift.pipeline.failures import about_input, classify
from mediasift.pipeline.jobs import JOB_KIND, PipelineJobs
from mediasift.pipeline.operator import Operator
from mediasift.search.answers import Group, answer
from mediasift.search.duplicates import duplicates
from mediasift.search.hits import Hit
from mediasift.search.hybrid import SearchMode, search
from mediasift.search.query import problem
from mediasift.search.similar import SimilarAsset, like_picture, similar
from mediasift.service_errors import AmbiguousAsset, AssetNotFound, BadQuery, NotReady, PersonNotFound, QueueFull
from mediasift.service_exports import Exports
from mediasift.service_models import (
    ApiAction,
    ApiActionList,
    Artifact,
    AssetCounts,
    AssetDetail,
    AssetList,
    AssetState,
    AssetSummary,
    AuditEntry,
    ConfidenceEntry,
    CostReport,
    CreatedKey,
    CreatedWebhook,
    DeadLetterInfo,
    DeadLetterList,
    DeletedAsset,
    Drift,
    DuplicateReport,
    EmbeddingCount,
    EmbeddingDrift,
    IngestedFile,
    IngestSummary,
    InputMix,
    JobDetail,
    JobState,
    MediaCost,
    MediaSpend,
    ModelInfo,
    ModelListing,
    OperatorRun,
    PictureMatches,
    QueueInfo,
    RefusedFile,
    Reprocessed,
    RunSeconds,
    SearchResults,
    Status,
    WebhookInfo,
    WebhookList,
    WorkerInfo,
)
from mediasift.service_people import People

BACKPRESSURE_CHECK_EVERY = 25
# What a waiting ingest says when it works through the queue itself: no worker alive, or none that
# takes every lane and operator on this broker (Mediasift.workers_take_everything).
NO_WORKER = "no worker running takes all of this work: analysing here"
PROGRESS_EVERY_S = 0.5
WAIT_POLL_S = 0.2  # how often a wait looks whether a worker finished its assets (two small queries)

# Reports as the work goes: a message (ingest holds back, no worker runs) and progress (assets
# finished, of how many).
OnWait = Callable[[str], None]
OnProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob a tenant may read: its media type, size, and whether it is an asset's original
    bytes (served as an attachment, its download audited) rather than a derived picture."""

    sha256: str
    mime: str
    size_bytes: int
    original: bool


@dataclass
class IngestReport:
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    status: dict[UUID, AssetState] = field(default_factory=dict)  # once the analysis was waited for

    def summary(self) -> IngestSummary:
        """What ``ingest --json`` prints and ``POST /assets`` answers."""
        accepted = []
        for a in self.accepted:
            state = self.status.get(a.asset_id)
            accepted.append(
                IngestedFile(
                    path=a.path, asset_id=a.asset_id, media_type=a.media_type, duplicate=a.duplicate,
                    status=state.status if state else None, failed=state.failed if state else None,
                )
            )  # fmt: skip
        rejected = [RefusedFile(path=r.path, reason=r.reason) for r in self.refused]
        return IngestSummary(accepted=accepted, rejected=rejected)

    @property
    def failed(self) -> list[UUID]:
        return [asset_id for asset_id, s in self.status.items() if s.status == "failed"]


def database_url(settings: Settings) -> str:
    """The URL of the database ``settings`` name (starting the embedded server if it is that one)."""
    return connection.database_url(settings)


def stop_database(settings: Settings) -> bool:
    """Stop the embedded PostgreSQL server of the data directory; whether one was running."""
    return stop_embedded(settings.pg_dir)


T = TypeVar("T")


def _reached(name: str, reach: Callable[[], T]) -> T:
    """What ``reach()`` gives; NotReady, naming ``name`` and why, when it fails in any way."""
    try:
        return reach()
    except Exception as exc:  # any failure to reach it means not ready; the reason is reported
        raise NotReady(f"the {name} cannot be reached: {exc.__class__.__name__}: {exc}") from exc


class Mediasift:
    """Everything ``settings`` describe: the database, blobs, pipeline, broker and the models (through
    one inference door built from the same settings, so each reaches every model and operator)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        tracing.setup(settings)  # nothing unless an OTLP endpoint is set
        self.db = Database(self.settings)
        self.blobs = blob_store(self.settings)
        self.pipeline = default_pipeline(self.settings.operator_plugins)
        self.inference = Inference(self.settings, store=InferenceCacheTable(self.db.url), about_input=about_input)
        self.keys = KeyRing(self.db)
        self.exports = Exports(self.db, self.settings, self.pipeline)
        self.people = People(self.db)
        self._opening = threading.RLock()
        self._broker: Broker | None = None
        self._jobs: PipelineJobs | None = None

    @property
    def broker(self) -> Broker:
        """The broker, opened on first use. Not a ``cached_property``: on Python 3.11 that holds one
        lock for every instance, so a system whose broker retries its connection for half a minute
        would hold up every other system's first use in the process."""
        with self._opening:
            if self._broker is None:
                self._broker = open_broker(
                    self.settings.broker_url,
                    database_url=self.db.url,
                    lease_s=self.settings.lease_s,
                    namespace=self.settings.queue_namespace,
                )
            return self._broker

    @property
    def jobs(self) -> PipelineJobs:
        with self._opening:
            if self._jobs is None:
                broker = self.broker
                self._jobs = PipelineJobs(self.db, self.settings, self.blobs, self.pipeline, broker, self.inference)
            return self._jobs

    def close(self) -> None:
        if self._broker is not None:
            self._broker.close()
        tracing.flush()

    # -- workers ------------------------------------------------------------------------------------

    def worker(
        self,
        *,
        concurrency: int | None = None,
        lanes: Sequence[Lane] = (Lane.INTERACTIVE, Lane.BATCH),
        operators: set[str] | None = None,
        worker_id: str | None = None,
    ) -> Worker:
        """A worker over this system's broker, failures classified as the pipeline says; run it with
        :meth:`run_worker`. Raises ValueError for operators the pipeline does not have."""
        s = self.settings
        if operators is not None and (unknown := operators - set(self.pipeline.operators)):
            raise ValueError(f"unknown operators: {', '.join(sorted(unknown))}")
        return Worker(
            self.broker,
            {JOB_KIND: self.jobs.handle, WEBHOOK_KIND: WebhookDelivery(self.db, s).handle},
            worker_id=worker_id or f"{os.uname().nodename}-{os.getpid()}-{os.urandom(2).hex()}",
            classify=classify,
            concurrency=concurrency or s.worker_concurrency,
            model_threads=s.model_threads,
            cores=available_cores(),
            lanes=lanes,
            groups=operators | {WEBHOOK_GROUP} if operators is not None else None,
            dependency_of=self.jobs.dependency_of,
            hooks=self.jobs,
            retry=RetryPolicy(s.retry_base_s, s.retry_cap_s),
            breakers=CircuitBreakers(s.breaker_threshold, s.breaker_cooldown_s),
            on_heartbeat=self._beat,
        )

    def run_worker(
        self,
        worker: Worker,
        *,
        until: Callable[[], bool] | None = None,
        on_model_problem: Callable[[str, str], None] | None = None,
    ) -> int:
        """Run ``worker`` until it is stopped (or, when idle, ``until()`` holds) and return its exit code.

        Around the run: models whose files are missing are reported to ``on_model_problem`` (model
        id, the fix) when it is given; the worker is registered, so ``status`` shows it and waiting
        callers leave the work to it, and heartbeats with its counts; models idle for
        ``model_idle_unload_s`` are unloaded; the events relay runs beside it (:meth:`relay`); at the
        end the worker is marked stopped."""
        # OpenCV's own thread pool (the resizes and colour conversions beside the models) is sized
        # like a model's, so concurrent jobs do not oversubscribe the cores with it either.
        cv2.setNumThreads(self.settings.model_threads)
        if on_model_problem is not None:
            for model_id, problem in self.model_problems().items():
                on_model_problem(model_id, problem)
        lanes = [lane.value for lane in worker.lanes]
        operators = None if worker.groups is None else sorted(worker.groups - {WEBHOOK_GROUP})
        with self.db.transaction() as conn:
            worker_repo.register(conn, worker.id, self.broker.name, lanes, worker.concurrency, operators)
        unloader = IdleUnloader(pool, self.settings.model_idle_unload_s).start()
        relay = self.relay().start()
        try:
            return worker.run(until=until)
        finally:
            relay.stop()
            unloader.stop()
            with self.db.transaction() as conn:
                worker_repo.stopped(conn, worker.id)

    def relay(self) -> Relay:
        """A relay of events to every sink these settings configure: webhooks always, the broker's
        topic (Redis or NATS), Kafka when ``kafka_bootstrap`` is set. Start it with ``.start()``."""
        s = self.settings
        topic = open_topic(s.broker_url, namespace=s.queue_namespace, max_events=s.events_topic_max)
        kafka = KafkaSink(s.kafka_bootstrap, s.kafka_topic) if s.kafka_bootstrap.strip() else None
        return Relay(self.db, s, self.broker, topic=topic, kafka=kafka)

    def _beat(self, worker: Worker) -> None:
        with self.db.transaction() as conn:
            worker_repo.beat(conn, worker.id, worker.in_flight, worker.stats.processed, worker.stats.failed)

    def workers_alive(self) -> list[WorkerInfo]:
        with self.db.transaction() as conn:
            return [WorkerInfo.model_validate(row) for row in worker_repo.alive(conn)]

    def workers_take_everything(self) -> bool:
        """Whether the workers alive on this system's broker, together, take every lane and every
        operator: then a caller that waits may leave the work to them. A worker of other operators
        only (``--operators``), of one lane, or on another broker would leave some jobs to no one."""
        alive = [w for w in self.workers_alive() if w.broker == self.broker.name]
        everything = set(self.pipeline.operators)
        taken = set().union(*(everything if w.operators is None else w.operators for w in alive))
        return {lane for w in alive for lane in w.lanes} >= {lane.value for lane in Lane} and taken >= everything

    def models(self) -> ModelListing:
        """The device models run on, and every model: its declaration, its state here, and its
        counters summed over all processes."""
        with self.db.transaction() as conn:
            counters = usage.read(conn)
        listing = self.inference.listing(counters)
        return ModelListing(device=devices.describe(), models=[ModelInfo.model_validate(m) for m in listing])

    def model_problems(self) -> dict[str, str]:
        """Models whose files are missing (declared ones: shipped and configured), with the fix."""
        return self.inference.problems()

    def first_admin_key(self) -> CreatedKey | None:
        """An admin key of the default tenant, made when the API is about to serve with no usable
        admin key and no shared token: a fresh install is never open, and its owner gets a key."""
        if self.settings.api_token or self.keys.has_admin():
            return None
        return self.keys.create(DEFAULT_TENANT, Scope.ADMIN, name="first admin key, made on first start")

    # -- health and metrics ---------------------------------------------------------------------------

    def ping(self) -> None:
        """Reach the database; raises when it cannot be reached."""
        self.db.ping()

    def ready(self, part: str | None = None) -> None:
        """Reach the database and the broker (or only ``part``: "database" or "broker"); NotReady
        (with which, and why) when one cannot be reached."""
        # the broker is opened inside the reach (on first use): a check of the database alone never waits for it
        for name, reach in (("database", self.db.ping), ("broker", lambda: self.broker.stats())):
            if part in (None, name):
                _reached(name, reach)

    def metrics_registry(self) -> CollectorRegistry:
        """Prometheus collectors: what ``status`` says, read at each scrape, and this process's figures."""
        collectors = metrics.registry_for(self._status_data)
        ProcessCollector(registry=collectors)
        return collectors

    def metrics_text(self) -> str:
        """What ``status`` says, as Prometheus exposition text."""
        return metrics.exposition(self._status_data)

    @contextmanager
    def metrics_served(self, port: int, addr: str) -> Iterator[None]:
        """``/metrics`` served on ``addr:port`` while in the block, read through a system of its own:
        scrapes come on another thread. Raises OSError when the port cannot be had."""
        reader = Mediasift(self.settings)
        try:
            server = metrics.serve(reader._status_data, port, addr)
        except OSError:
            reader.close()
            raise
        try:
            yield
        finally:
            server.shutdown()
            reader.close()

    def _status_data(self) -> dict[str, Any]:
        return self.status().model_dump()

    # -- ingest -------------------------------------------------------------------------------------

    def files(self, paths: Iterable[Path]) -> list[Path]:
        """The files ``ingest`` takes from ``paths``: files named, and every file under directories
        named (recursively, in a stable order)."""
        return list(expand_paths(paths))

    def ingest(
        self,
        paths: Iterable[Path],
        *,
        wait: bool = False,
        lane: Lane | None = None,
        tenant: str = DEFAULT_TENANT,
        on_file: Callable[[Path, Accepted | Refused], None] | None = None,
        on_wait: OnWait | None = None,
        on_progress: OnProgress | None = None,
    ) -> IngestReport:
        """Register every file as an asset of ``tenant`` and queue its analysis; with ``wait``, return
        when it is done.

        With no worker running, the work is done here, through the same runtime. When the queue is
        deeper than the high-water mark, ingest waits (or works) until it is back under the
        low-water mark, so neither the queue nor memory grows without bound."""
        files = self.files(paths)
        lane = lane or (Lane.INTERACTIVE if len(files) <= self.settings.interactive_max_files else Lane.BATCH)
        ingestor = Ingestor(self.db, self.settings, self.blobs, self.inference.language, tenant=tenant)
        report = IngestReport()
        registered = threading.Event()

        def analysed() -> bool:  # the inline worker's end: every file registered, and its analysis done
            return registered.is_set() and self._unfinished([a.asset_id for a in report.accepted]) == 0

        working = wait and len(files) > 1 and not self.workers_take_everything()
        with self._working_meanwhile(on_wait, until=analysed) if working else nullcontext() as worker_ended:
            for index, path in enumerate(files):
                if index % BACKPRESSURE_CHECK_EVERY == 0:
                    self._hold_back(on_wait)
                outcome = self._register(ingestor, path, None, lane, report)
                if on_file:
                    on_file(path, outcome)
            registered.set()
            if wait:
                self._wait_into(report, on_wait, on_progress, wake=worker_ended)
        return report

    def check_queue_room(self) -> None:
        """QueueFull when the queue is at its high-water mark: for callers that answer "later"
        rather than wait, as ``ingest`` does."""
        depth = _reached("broker", lambda: self.broker.stats()).depth  # unreachable: nothing can be queued (503)
        if depth >= self.settings.queue_high_water:
            raise QueueFull(
                f"the queue holds {depth} jobs (high-water mark {self.settings.queue_high_water}); try again later"
            )

    def ingest_received(self, path: Path, source: str, *, tenant: str = DEFAULT_TENANT) -> IngestReport:
        """One file received from elsewhere (an upload, a download), recorded as coming from
        ``source``, as an asset of ``tenant``; queued on the interactive lane. QueueFull when the
        queue is at its high-water mark: nothing is registered then."""
        self.check_queue_room()
        report = IngestReport()
        ingestor = Ingestor(self.db, self.settings, self.blobs, self.inference.language, actor="api", tenant=tenant)
        self._register(ingestor, path, source, Lane.INTERACTIVE, report)
        return report

    def analysed(self, report: IngestReport) -> bool:
        """Whether the report's assets are done or failed; their states are in ``report.status`` then.
        For callers that wait on their own terms (the HTTP API polls it without holding a thread)."""
        asset_ids = list(dict.fromkeys(a.asset_id for a in report.accepted))
        if self._unfinished(asset_ids):
            return False
        report.status = self.asset_states(asset_ids)
        return True

    def _unfinished(self, asset_ids: Sequence[UUID]) -> int:
        """How many of these assets are neither done nor failed."""
        with self.db.transaction() as conn:
            return job_states.unfinished(conn, asset_ids)

    def _register(
        self, ingestor: Ingestor, path: Path, source: str | None, lane: Lane, report: IngestReport
    ) -> Accepted | Refused:
        # One trace per asset: it starts here (linked to the upload's request, if traced) and its
        # jobs carry it through the broker.
        with telemetry.span("ingest", {"ingest.source": source or str(path)}, root=True) as span:
            outcome = ingestor.ingest_file(path, source)
            if isinstance(outcome, Accepted):
                report.accepted.append(outcome)
                if span is not None:
                    span.set_attributes({"asset.id": str(outcome.asset_id), "asset.duplicate": outcome.duplicate})
                if not outcome.duplicate or self._never_queued(outcome.asset_id):
                    with telemetry.tagged(asset_id=str(outcome.asset_id)):
                        self.jobs.enqueue([outcome.asset_id], lane)
            else:
                report.refused.append(outcome)
        return outcome

    def _wait_into(
        self,
        report: IngestReport,
        on_wait: OnWait | None,
        on_progress: OnProgress | None,
        wake: threading.Event | None = None,
    ) -> None:
        asset_ids = [a.asset_id for a in report.accepted]
        self.wait_for(asset_ids, on_wait=on_wait, on_progress=on_progress, wake=wake)
        report.status = self.asset_states(asset_ids)

    def _never_queued(self, asset_id: UUID) -> bool:
        with self.db.transaction() as conn:
            return not job_states.states(conn, asset_id)

    def _hold_back(self, on_wait: OnWait | None) -> None:
        depth = self.broker.stats().depth
        if depth < self.settings.queue_high_water:
            return
        low = self.settings.queue_low_water
        if on_wait:
            on_wait(f"queue holds {depth} jobs (high-water mark {self.settings.queue_high_water}); "
                    f"waiting until it is under {low}")  # fmt: skip
        if self.workers_take_everything():
            while self.broker.stats().depth > low:
                time.sleep(1.0)
        else:
            self.run_inline(until=lambda: self.broker.stats().depth <= low)

    def wait_for(
        self,
        asset_ids: Sequence[UUID],
        *,
        on_wait: OnWait | None = None,
        on_progress: OnProgress | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        """Return when every one of these assets is done or failed. While no worker is alive, the
        work is done here. ``on_progress`` hears how many are finished, of how many: at the start,
        twice a second while waiting, and at the end. Once ``wake`` is set (this process's worker
        ended), the wait looks again at once rather than at its next poll."""
        unique = list(dict.fromkeys(asset_ids))

        def finished() -> bool:
            return self._unfinished(unique) == 0

        reporting: AbstractContextManager[None] = nullcontext()
        if on_progress is not None:
            reporting = _every(
                PROGRESS_EVERY_S, lambda: on_progress(len(unique) - self._unfinished(unique), len(unique))
            )
        with reporting:
            while not finished():
                if self.workers_take_everything():
                    if wake is not None and not wake.is_set():
                        wake.wait(WAIT_POLL_S)
                    else:  # no worker of this process to wake on (or it ended for another reason)
                        time.sleep(WAIT_POLL_S)
                else:
                    if on_wait:
                        on_wait(NO_WORKER)
                    self.run_inline(until=finished)

    def run_inline(self, until: Callable[[], bool]) -> None:
        """Work through the queue in this process until ``until()`` holds (checked when idle), as a
        registered worker: other processes see it and leave the work to it."""
        self.run_worker(self._inline_worker(), until=until)

    def _inline_worker(self) -> Worker:
        return self.worker(worker_id=f"inline-{os.uname().nodename}-{os.getpid()}-{os.urandom(2).hex()}")

    @contextmanager
    def _working_meanwhile(self, on_wait: OnWait | None, until: Callable[[], bool]) -> Iterator[threading.Event]:
        """Work through the queue in a thread of this process while the body runs (an ingest that
        registers its files and waits for them, with no worker running): the first files are
        analysed while the rest are still hashed and probed, rather than after, and the waiting sees
        this worker at work. The worker ends when it is idle and ``until()`` holds, which sets the
        event yielded (a wait then ends at once, rather than at its next poll and after the worker's
        idle fetch), or when the body ends: what it runs then finishes (or, past the grace period, is
        released)."""
        if on_wait:
            on_wait(NO_WORKER)
        worker = self._inline_worker()
        ended = threading.Event()

        def run() -> None:
            try:
                self.run_worker(worker, until=until)
            finally:
                ended.set()

        thread = threading.Thread(target=run, name="ingest-worker")
        thread.start()
        try:
            # Seen before the body goes on: the waiting, and the holding back at the high-water mark,
            # leave the work to a worker they see.
            while thread.is_alive() and worker.id not in {w.id for w in self.workers_alive()}:
                time.sleep(0.01)
            yield ended
        finally:
            worker.stop()
            thread.join()

    def process_pending(self) -> list[UUID]:
        """Queue assets that were registered but never queued, and work until nothing is left."""
        with self.db.transaction() as conn:
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
        wait: bool = False,
        on_wait: OnWait | None = None,
        on_progress: OnProgress | None = None,
    ) -> Reprocessed:
        """Queue what is missing or stale against stored lineage, and only that: what was queued per
        operator, for which assets. With ``wait``, return when that work is done, with the assets
        that failed and what is still stale by this process's settings: a worker with other settings
        (other ``MEDIASIFT_*`` values, another version) ran it by its own. Raises ValueError for an
        operator the pipeline does not have."""
        queued: dict[str, int] = {}
        plans = self.stale(operator=operator, media_type=media_type, errors_only=errors_only)
        for asset_id, plan in plans.items():
            self.jobs.requeue(asset_id, plan, lane)
            for op in plan:
                queued[op.name] = queued.get(op.name, 0) + 1
        assets = list(plans)
        if not (wait and assets):
            return Reprocessed(queued=queued, assets=assets, failed=[], still_stale={})
        self.wait_for(assets, on_wait=on_wait, on_progress=on_progress)
        still: dict[str, int] = {}
        for ops in self.stale(operator=operator, media_type=media_type).values():
            for op in ops:
                still[op.name] = still.get(op.name, 0) + 1
        failed = [asset_id for asset_id, state in self.asset_states(assets).items() if state.status == "failed"]
        return Reprocessed(queued=queued, assets=assets, failed=failed, still_stale=still)

    def stale(
        self, *, operator: str | None = None, media_type: str | None = None, errors_only: bool = False
    ) -> dict[UUID, list[Operator]]:
        """Per asset, the operators whose results are missing or stale by this process's settings
        (their version, parameters and models), or that failed (``errors_only``: only those)."""
        if operator is not None and operator not in self.pipeline.operators:
            raise ValueError(f"unknown operator {operator!r}")
        plans: dict[UUID, list[Operator]] = {}
        for stored in self.list_assets(media_type=media_type):
            with self.db.transaction() as conn:
                asset = load_asset(conn, stored.id)
                runs = result_repo.read_runs(conn, stored.id)
            plan = self.jobs.plan(asset, runs, only=operator, errors_only=errors_only)
            if plan:
                plans[stored.id] = plan
        return plans

    def asset_states(self, asset_ids: Sequence[UUID]) -> dict[UUID, AssetState]:
        out: dict[UUID, AssetState] = {}
        with self.db.transaction() as conn:
            for asset_id in dict.fromkeys(asset_ids):
                asset = asset_repo.get_asset(conn, asset_id)
                states = job_states.states(conn, asset_id)
                out[asset_id] = AssetState(
                    status=asset.status if asset else "missing",
                    failed={op: row["error"] for op, row in states.items() if row["state"] in ("dead", "failed")},
                )
        return out

    # -- dead letters ---------------------------------------------------------------------------------

    def dead_letters(self, operator: str | None = None, *, tenant: str | None = None) -> list[DeadLetter]:
        """Dead jobs (of one operator), of ``tenant``'s assets (every tenant's when None), oldest first."""
        letters = [d for d in self.broker.dead_letters(limit=100_000) if operator is None or d.job.group == operator]
        if tenant is not None:
            asset_ids = {d.job.id: _asset_of_job(d.job.id) for d in letters}
            with self.db.transaction() as conn:
                owners = asset_repo.tenants_of(conn, [a for a in asset_ids.values() if a is not None])

            def owner(letter: DeadLetter) -> str | None:
                if letter.job.kind == WEBHOOK_KIND:  # its event's tenant (the asset may be deleted)
                    return str(letter.job.payload.get("tenant"))
                asset_id = asset_ids[letter.job.id]
                return owners.get(asset_id) if asset_id is not None else None

            letters = [d for d in letters if owner(d) == tenant]
        return sorted(letters, key=lambda d: (d.failed_at, d.job.id))

    def dead_letter_page(
        self, operator: str | None = None, *, tenant: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> DeadLetterList:
        """One page of :meth:`dead_letters`, after ``cursor`` (a page's ``next_cursor``)."""
        letters = self.dead_letters(operator, tenant=tenant)
        if cursor is not None:
            after_at, after_id = cursors.decode(cursor, 2)
            try:
                after = (datetime.fromisoformat(after_at), str(after_id))
            except (ValueError, TypeError):
                raise cursors.BadCursor("not a cursor this API gave (use next_cursor as it came)") from None
            letters = [d for d in letters if (d.failed_at, d.job.id) > after]
        page = letters[:limit]
        more = len(letters) > limit
        return DeadLetterList(
            dead_letters=[DeadLetterInfo.of(d) for d in page],
            next_cursor=cursors.encode([page[-1].failed_at.isoformat(), page[-1].job.id]) if more else None,
        )

    def redrive(
        self, job_ids: Sequence[str] | None = None, operator: str | None = None, *, tenant: str | None = None
    ) -> int:
        """Queue dead jobs (of ``tenant``'s assets, every tenant's when None) again from attempt 1:
        the ones named, or all (of one operator)."""
        letters = self.dead_letters(operator, tenant=tenant)
        chosen = [d for d in letters if job_ids is None or d.job.id in job_ids]
        # under this process's limits, not those of the process that queued them
        limits = {d.job.id: self._limits(d.job.kind) for d in chosen}
        count = self.broker.redrive([d.job.id for d in chosen], limits)
        self.jobs.on_redrive(d.job for d in chosen)
        return count

    def _limits(self, kind: str) -> Limits:
        """The attempts and time limit a job of ``kind`` is queued with under these settings."""
        if kind == WEBHOOK_KIND:
            return webhook_limits(self.settings)
        return self.settings.max_attempts, self.settings.job_timeout_s

    def job(self, job_id: str, *, tenant: str | None = None) -> JobDetail:
        """A job's state in its asset's pipeline, and its dead letter if it has one (AssetNotFound
        when it has neither, or its asset is not ``tenant``'s)."""
        asset_id = _asset_of_job(job_id)
        operator = job_id.partition(":")[2]
        state = None
        if asset_id is not None and tenant is not None:
            with self.db.transaction() as conn:
                if asset_repo.tenants_of(conn, [asset_id]).get(asset_id) != tenant:
                    raise AssetNotFound(f"no job {job_id!r}")
        if operator and asset_id is not None:
            with self.db.transaction() as conn:
                state = job_states.states(conn, asset_id).get(operator)
        dead = next((d for d in self.dead_letters(tenant=tenant) if d.job.id == job_id), None)
        if state is None and dead is None:
            raise AssetNotFound(f"no job {job_id!r}")
        return JobDetail(
            job_id=job_id,
            state=JobState.model_validate(state) if state else None,
            dead_letter=DeadLetterInfo.of(dead) if dead else None,
        )

    # -- webhooks ---------------------------------------------------------------------------------------

    def add_webhook(self, url: str, events: Sequence[str], *, tenant: str = DEFAULT_TENANT) -> CreatedWebhook:
        """A webhook of ``tenant`` (created when new) for these event types; the answer is the only
        time its signing secret is shown. ValueError when the URL is not http(s), its host is not
        public (unless ``url_fetch_private`` or a trusted host: each delivery checks again), or an
        event type is unknown."""
        check_tenant_name(tenant)
        wanted = list(dict.fromkeys(e.strip() for e in events if e.strip()))
        unknown = [e for e in wanted if e not in outbox.EVENT_TYPES]
        if not wanted or unknown:
            given = f" (not {', '.join(unknown)})" if unknown else ""
            raise ValueError(f"name event types among {', '.join(outbox.EVENT_TYPES)}{given}")
        try:
            hop = Hop.parse(url)
            if not (self.settings.url_fetch_private or hop.host in self.settings.url_fetch_trusted):
                check_public(hop.host, hop.port)
        except Unacceptable as exc:
            raise ValueError(str(exc)) from None
        secret = new_secret()
        with self.db.transaction() as conn:
            key_repo.ensure_tenant(conn, tenant)
            row = webhook_repo.insert(
                conn, webhook_id=uuid4(), tenant=tenant, url=url, event_types=wanted, secret=secret
            )
        return CreatedWebhook.model_validate({**row, "secret": secret})

    def webhooks(self, *, tenant: str | None = None) -> WebhookList:
        """The webhooks of ``tenant`` (every tenant's when None), without their secrets: neither the
        signing secret nor a password in the URL (``https://user:***@host/``)."""
        with self.db.transaction() as conn:
            rows = webhook_repo.list_webhooks(conn, tenant)
        return WebhookList(
            webhooks=[WebhookInfo.model_validate({**row, "url": without_password(row["url"])}) for row in rows]
        )

    def remove_webhook(self, webhook_id: UUID, *, tenant: str | None = None) -> None:
        """Stop sending to a webhook of ``tenant`` (any tenant's when None): deliveries still queued
        send nothing. AssetNotFound when there is no such webhook."""
        with self.db.transaction() as conn:
            if not webhook_repo.remove(conn, webhook_id, tenant):
                raise AssetNotFound(f"no webhook {webhook_id}")

    # -- reading --------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        media_type: str | None = None,
        mode: SearchMode = SearchMode.HYBRID,
        tenant: str | None = None,
        filters: AssetFilters = NO_FILTERS,
    ) -> list[Hit]:
        """Best hits first, one per segment time window, of ``tenant``'s assets (every tenant's when
        None) that ``filters`` leave: the raw ranking (:meth:`answers` is what a person reads).
        PersonNotFound when the filter names a person no one is (:meth:`_check_person`)."""
        self._check_person(filters, tenant)
        return search(
            self.db, self.inference, query, limit=limit, media_type=media_type, mode=mode, tenant=tenant,
            filters=filters,
        )  # fmt: skip

    def _check_person(self, filters: AssetFilters, tenant: str | None) -> None:
        """PersonNotFound when ``filters`` name a person who is no one of ``tenant`` (of any tenant
        when None): a misspelt name would otherwise look like a person with no appearances."""
        if filters.person is None:
            return
        with self.db.transaction() as conn:
            if not people_repo.known(conn, filters.person, tenant):
                raise PersonNotFound(f"no person named or numbered {filters.person!r}")

    def answers(
        self,
        query: str,
        *,
        group: Group = Group.ASSET,
        limit: int = 10,
        media_type: str | None = None,
        mode: SearchMode = SearchMode.HYBRID,
        tenant: str | None = None,
        filters: AssetFilters = NO_FILTERS,
    ) -> SearchResults:
        """The ``limit`` best assets (each with its best moments) or moments for ``query``, of
        ``tenant``'s assets (every tenant's when None) that ``filters`` leave: readable scores (0-1),
        the query's words marked in each snippet, and the keyframe or thumbnail of each moment, all
        a page needs to show them."""
        if (why := problem(query)) is not None:
            raise BadQuery(why)
        self._check_person(filters, tenant)
        found = answer(
            self.db, self.inference, query, group=group, limit=limit, media_type=media_type, mode=mode,
            tenant=tenant, filters=filters,
        )  # fmt: skip
        return SearchResults.of(query, mode, group, found)

    def similar(self, asset_id: UUID, *, limit: int = 10, tenant: str | None = None) -> list[SimilarAsset]:
        """The assets of ``tenant`` (every tenant's when None) most like ``asset_id``."""
        return similar(self.db, self.inference, asset_id, limit=limit, tenant=tenant)

    def similar_to_picture(self, data: bytes, *, limit: int = 10, tenant: str | None = None) -> PictureMatches:
        """The assets of ``tenant`` (every tenant's when None) whose pictures are most like the image
        file ``data`` (query by example). :class:`mediasift.media.pictures.Unreadable` (a ValueError,
        with the reason) when it is not a picture, or one over ``max_image_pixels``."""
        pixels = decode_picture(data, self.settings.max_image_pixels)
        phash = perceptual_hash(pixels)
        return PictureMatches.of(
            phash, like_picture(self.db, self.inference, pixels, phash, limit=limit, tenant=tenant)
        )

    def duplicates(self, *, limit: int = 100, tenant: str | None = None) -> DuplicateReport:
        """Exact copies, and clusters of videos that are copies of one another (re-encoded, resized,
        trimmed, one inside another) by their temporal fingerprints, among ``tenant``'s assets
        (every tenant's when None): at most ``limit`` clusters of each, the largest first."""
        return DuplicateReport.of(duplicates(self.db, tenant=tenant, limit=limit))

    def resolve(self, asset_ref: str, *, tenant: str | None = None) -> UUID:
        """An asset id of ``tenant`` (any tenant when None) from a full id or an unambiguous prefix."""
        ref = asset_ref.strip().lower()
        matches = []
        if 0 < len(ref) <= 36 and all(c in "0123456789abcdef-" for c in ref):
            with self.db.transaction() as conn:
                matches = asset_repo.find_assets_by_prefix(conn, ref, tenant)
        if not matches:
            raise AssetNotFound(f"no asset with id {asset_ref!r}")
        if len(matches) > 1:
            raise AmbiguousAsset(f"{asset_ref!r} matches {len(matches)} assets: give more of the id")
        return matches[0]

    def list_assets(
        self, *, media_type: str | None = None, status: str | None = None, tenant: str | None = None
    ) -> list[asset_repo.AssetRow]:
        """Every asset (of ``tenant``, every tenant's when None), oldest first."""
        with self.db.transaction() as conn:
            return asset_repo.list_assets(conn, media_type=media_type, status=status, tenant=tenant, limit=10_000_000)

    def asset_page(
        self,
        *,
        media_type: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> AssetList:
        """One page of :meth:`list_assets`, after ``cursor`` (a page's ``next_cursor``); BadCursor
        for one this API did not give."""
        after = None
        if cursor is not None:
            at, asset_id = cursors.decode(cursor, 2)
            try:
                after = (datetime.fromisoformat(at), UUID(asset_id))
            except (ValueError, TypeError):
                raise cursors.BadCursor("not a cursor this API gave (use next_cursor as it came)") from None
        with self.db.transaction() as conn:
            rows = asset_repo.list_assets(
                conn, media_type=media_type, status=status, tenant=tenant, after=after, limit=limit + 1
            )
        page = rows[:limit]
        more = len(rows) > limit
        return AssetList(
            assets=[AssetSummary.of(row) for row in page],
            next_cursor=cursors.encode([page[-1].created_at.isoformat(), str(page[-1].id)]) if more else None,
        )

    def blob_info(self, sha256: str, *, tenant: str | None = None) -> BlobInfo:
        """A stored blob (thumbnail, keyframe, original) ``tenant`` may read (any, when None):
        AssetNotFound when there is none."""
        with self.db.transaction() as conn:
            row = asset_repo.blob_info(conn, sha256, tenant)
        if row is None or not self.blobs.exists(sha256):
            raise AssetNotFound(f"no blob {sha256}")
        return BlobInfo(sha256=sha256, mime=row["mime"], size_bytes=int(row["size_bytes"]), original=row["original"])

    def api_actions(self, *, tenant: str | None = None, cursor: str | None = None, limit: int = 100) -> ApiActionList:
        """The audit of API actions of ``tenant`` (every tenant's when None), oldest first, a page
        after ``cursor``."""
        after = None
        if cursor is not None:
            (after_value,) = cursors.decode(cursor, 1)
            if not isinstance(after_value, int):
                raise cursors.BadCursor("not a cursor this API gave (use next_cursor as it came)")
            after = after_value
        with self.db.transaction() as conn:
            rows = api_audit.page(conn, tenant=tenant, after=after, limit=limit + 1)
        page = rows[:limit]
        return ApiActionList(
            actions=[ApiAction.model_validate(row) for row in page],
            next_cursor=cursors.encode([page[-1]["id"]]) if len(rows) > limit else None,
        )

    def record_api_action(
        self,
        *,
        key_id: str | None,
        tenant: str | None,
        client: str,
        action: str,
        target: str,
        status: int,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.db.transaction() as conn:
            api_audit.record(
                conn, key_id=key_id, tenant=tenant, client=client, action=action, target=target,
                status=status, detail=detail,
            )  # fmt: skip

    def describe(self, asset_id: UUID, *, tenant: str | None = None) -> AssetDetail:
        """The asset (AssetNotFound unless it is ``tenant``'s, any tenant's when None) with its
        metadata, every artifact with lineage, each operator's run and job state, and its audit trail
        (who or what changed it, when, how)."""
        with self.db.transaction() as conn:
            asset = asset_repo.get_asset(conn, asset_id, tenant)
            if asset is None:
                raise AssetNotFound(f"no asset with id {asset_id}")
            artifacts = result_repo.read_artifacts(conn, asset_id)
            runs = result_repo.read_runs(conn, asset_id)
            states = job_states.states(conn, asset_id)
            audit = asset_repo.audit_trail(conn, asset_id)
        return AssetDetail(
            id=asset.id,
            tenant=asset.tenant,
            media_type=asset.media_type,
            mime=asset.mime,
            sha256=asset.sha256,
            size_bytes=asset.size_bytes,
            status=asset.status,
            created_at=asset.created_at,
            sources=asset.sources,
            metadata=asset.metadata,
            artifacts=[Artifact.model_validate(row) for row in artifacts],
            operators={name: OperatorRun.model_validate(row) for name, row in runs.items()},
            jobs={name: JobState.model_validate(row) for name, row in states.items()},
            audit=[AuditEntry.model_validate(row) for row in audit],
        )

    # -- deletion -------------------------------------------------------------------------------------

    def delete_asset(self, asset_id: UUID, *, tenant: str | None, actor: str) -> DeletedAsset:
        """Delete the asset (AssetNotFound unless it is ``tenant``'s; any tenant's when None) and
        everything made from it, recorded in the audit log as done by ``actor``.

        One transaction removes its rows (segments, embeddings, artifacts, runs, sources, job
        states), the cached model results its analysis stored, the blob rows nothing else
        references, its jobs where the broker is PostgreSQL (queued, delayed, dead, and in flight:
        that one's worker finds the asset gone and ends the job as a no-op), and redacts what the
        audit log copied of it (who deleted it, when, and its id stay). After the commit, the bytes
        of those blobs leave the blob store (each re-checked under its lock: bytes another ingest
        recorded meanwhile stay) and, with Redis or NATS, its dead letters leave the broker (its
        queued jobs stay there and end as no-ops when a worker takes them)."""
        forget_within = getattr(self.broker, "forget_within", None)
        with self.db.transaction() as conn:
            asset_repo.set_actor(conn, actor)
            asset = asset_repo.get_asset(conn, asset_id, tenant)
            summary = outbox.asset_summary(conn, asset_id)
            erased = erasure.erase_asset(conn, asset_id, tenant)
            if erased is None or asset is None:
                raise AssetNotFound(f"no asset with id {asset_id}")
            jobs = forget_within(conn, f"{asset_id}:") if forget_within is not None else 0
            outbox.redact_events(conn, asset_id)
            deleted = {
                "status": "deleted",
                "media_type": asset.media_type,
                "operators": summary["operators"],
                "segments": summary["segments"],
            }
            outbox.add_event(conn, outbox.DELETED, erased.tenant, asset_id, deleted, sinks=self.settings.event_sinks)
        removed = erasure.remove_unreferenced_bytes(self.db, erased.blobs, self.blobs.delete)
        if forget_within is None:
            dead = [d.job.id for d in self.broker.dead_letters(limit=1_000_000) if _asset_of_job(d.job.id) == asset_id]
            jobs = self.broker.drop_dead(dead)
        return DeletedAsset(
            id=asset_id,
            tenant=erased.tenant,
            blobs_removed=len(removed),
            cached_results_removed=erased.cached_results,
            jobs_removed=jobs,
            audit_rows_redacted=erased.audit_rows_redacted,
        )

    def status(self) -> Status:
        s = self.settings
        with self.db.transaction() as conn:
            counts = asset_repo.count_by(conn)
            embeddings = result_repo.count_embeddings(conn)
            job_counts = job_states.counts(conn)
            workers = worker_repo.alive(conn)
            models = usage.read(conn)
            costs = result_repo.cost_by_media_type(conn)
            confidence = confidence_report(conn, self.settings)
            oldest = ops_repo.oldest_queued_age(conn)
            drift = Drift(
                embeddings={m: EmbeddingDrift.model_validate(e) for m, e in embedding_report(conn, s).items()},
                inputs={d: InputMix.model_validate(e) for d, e in input_mix_report(conn, s).items()},
            )
            spend = CostReport.model_validate(cost_report(conn, models, usd_per_cpu_hour=s.compute_usd_per_hour))
            durations = {op: RunSeconds.model_validate(h) for op, h in run_seconds(conn).items()}
        queue = self.broker.stats()
        by_type: dict[str, dict[str, int]] = {}
        for row in counts:
            by_type.setdefault(row["media_type"], {})[row["status"]] = row["n"]
        by_operator: dict[str, dict[str, dict[str, int]]] = {}
        for row in job_counts:
            by_operator.setdefault(row["lane"], {}).setdefault(row["operator"], {})[row["state"]] = row["n"]
        return Status(
            home=str(self.settings.home),
            database="external" if self.settings.database_url else "embedded",
            assets=AssetCounts(
                total=sum(row["n"] for row in counts),
                bytes=int(sum(row["bytes"] or 0 for row in counts)),
                by_media_type=by_type,
                pending=sum(row["n"] for row in counts if row["status"] in ("pending", "processing")),
                failed=sum(row["n"] for row in counts if row["status"] == "failed"),
            ),
            queue=QueueInfo(
                broker=self.broker.name,
                ready=queue.ready,
                delayed=queue.delayed,
                in_flight=queue.in_flight,
                dead=queue.dead,
                depth=queue.depth,
                high_water=self.settings.queue_high_water,
                jobs=by_operator,
                oldest_queued_s=oldest,
            ),
            workers=[WorkerInfo.model_validate(row) for row in workers],
            embeddings={row["model"]: EmbeddingCount(dim=row["dim"], count=row["n"]) for row in embeddings},
            models=models,
            confidence={
                op: {kind: ConfidenceEntry.model_validate(entry) for kind, entry in kinds.items()}
                for op, kinds in confidence.items()
            },
            cost={row["media_type"]: _media_cost(row, spend.media_types.get(row["media_type"])) for row in costs},
            compute_usd_per_hour=s.compute_usd_per_hour,
            gpus=devices.gpu_stats(),
            drift=drift,
            spend=spend,
            run_seconds=durations,
        )

    def cost(self, since: datetime | None = None) -> CostReport:
        """Cost and time per item by media type and operator (runs finished since ``since``), each
        model's share of the cost and what the cache and the routers saved."""
        with self.db.transaction() as conn:
            price = self.settings.compute_usd_per_hour
            return CostReport.model_validate(cost_report(conn, usage.read(conn), since, usd_per_cpu_hour=price))


def _media_cost(row: dict[str, Any], spend: MediaSpend | None) -> MediaCost:
    """A media type's cost in ``status``: the model calls' per asset, and (audio, video) its run time at
    the price of a CPU-hour per minute of media, as ``cost`` computes it."""
    return MediaCost(
        assets=row["assets"],
        total_usd=float(row["cost_usd"] or 0.0),
        per_asset_usd=float(row["cost_usd"] or 0.0) / row["assets"],
        processing_s_per_asset=float(row["duration_ms"] or 0.0) / 1000 / row["assets"],
        minutes=spend.minutes if spend else 0.0,
        usd_per_minute=spend.compute_usd_per_minute if spend else None,
    )


def _asset_of_job(job_id: str) -> UUID | None:
    """The asset of a pipeline job id (``ASSET_ID:OPERATOR``); None for any other id."""
    try:
        return UUID(job_id.partition(":")[0])
    except ValueError:
        return None


@contextmanager
def _every(interval_s: float, call: Callable[[], None]) -> Iterator[None]:
    """Call ``call`` when the block starts, every ``interval_s`` seconds on a thread while it runs,
    and when it ends (unless it ends by an exception)."""
    call()
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            call()

    thread = threading.Thread(target=loop, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    call()
