"""The results of the Python API (:class:`mediasift.service.Mediasift`), as typed models.

The CLI prints them (``--json``) and the HTTP API returns them, so both doors give one JSON and
``/openapi.json`` describes it. Fields are declared in the order of the JSON keys; the free-form
parts (an asset's metadata, an artifact's data, a job's payload) stay open mappings.

Times are :data:`IsoTime` fields: ``datetime.isoformat()`` text (``+00:00`` for UTC) as soon as a
result is dumped, in both doors and in every part of a result alike.

The few types of lower layers that the service's calls take or give (``Lane``, ``SearchMode``, and
ingest's ``Accepted`` and ``Refused``) are named here too, so the doors import this module and the
service only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from mediasift.db.assets import AssetRow
from mediasift.db.search_filters import AssetFilters as AssetFilters
from mediasift.exports.subtitles import SRT_MIME, VTT_MIME
from mediasift.ingest.service import Accepted as Accepted
from mediasift.ingest.service import Refused as Refused
from mediasift.jobs.model import DeadLetter
from mediasift.jobs.model import Lane as Lane
from mediasift.models.devices import GpuStats
from mediasift.search.answers import AssetAnswer, Moment
from mediasift.search.answers import Group as Group
from mediasift.search.duplicates import Duplicates, Member, SimilarCluster
from mediasift.search.hybrid import SearchMode as SearchMode
from mediasift.search.similar import SimilarAsset


def _iso(value: datetime) -> str:
    return value.isoformat()


IsoTime = Annotated[datetime, PlainSerializer(_iso, return_type=str)]


class Result(BaseModel):
    """A result: a frozen model whose fields are read as attributes (``detail.artifacts``)."""

    model_config = ConfigDict(frozen=True)


class AssetStatus(StrEnum):
    """Where an asset's analysis stands."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


# -- ingest ---------------------------------------------------------------------------------------


def _not_waited(value: object) -> bool:
    return value is None


class IngestedFile(Result):
    """An accepted file. ``status`` and ``failed`` (operator: error) are there once its analysis
    was waited for."""

    path: str
    asset_id: UUID
    media_type: str
    duplicate: bool
    status: str | None = Field(default=None, exclude_if=_not_waited)
    failed: dict[str, str] | None = Field(default=None, exclude_if=_not_waited)


class RefusedFile(Result):
    path: str
    reason: str


class IngestSummary(Result):
    """What ``ingest --json`` prints and ``POST /assets`` answers."""

    accepted: list[IngestedFile]
    rejected: list[RefusedFile]


class UploadResult(Result):
    """``POST /v1/assets`` and ``POST /v1/assets/from-url``: the asset's ``id`` and what
    ``ingest --json`` says of the file. ``analysed`` is false when ``wait=true`` ran out of time
    (202): the workers go on, ``GET /v1/assets/{id}`` tells when they are done."""

    id: UUID
    media_type: str
    duplicate: bool
    analysed: bool | None = None
    status: str | None = None
    failed: dict[str, str] | None = None
    accepted: list[IngestedFile]
    rejected: list[RefusedFile]


class AssetState(Result):
    """Where an asset's analysis stands: its status and the operators that failed, with the error."""

    status: str
    failed: dict[str, str]


# -- assets -----------------------------------------------------------------------------------------


class AssetSummary(Result):
    asset_id: UUID
    tenant: str
    media_type: str
    mime: str
    size_bytes: int
    status: str
    sources: list[str]
    created_at: IsoTime

    @classmethod
    def of(cls, row: AssetRow) -> AssetSummary:
        return cls(asset_id=row.id, tenant=row.tenant, media_type=row.media_type, mime=row.mime,
                   size_bytes=row.size_bytes, status=row.status, sources=row.sources,
                   created_at=row.created_at)  # fmt: skip


class AssetList(Result):
    """Assets, oldest first: ``assets list --json`` and ``GET /v1/assets``; ``next_cursor``, when
    there are more, asks for the next page."""

    assets: list[AssetSummary]
    next_cursor: str | None = None


class Artifact(Result):
    """A result with its lineage: which operator and model (and versions) made it, with which
    parameters, how long it took; ``start``/``end``/``text`` are its segment's, when it has one."""

    operator: str
    kind: str
    key: str
    data: dict[str, Any]
    blob_sha256: str | None
    confidence: float | None
    operator_version: str
    model: str | None
    model_version: str | None
    params_hash: str
    duration_ms: float
    created_at: IsoTime
    start: float | None
    end: float | None
    text: str | None


class OperatorRun(Result):
    """The last run of one operator on one asset: its lineage, outcome and cost."""

    operator: str
    operator_version: str
    params_hash: str
    model: str | None
    model_version: str | None
    status: str
    error: str | None
    started_at: IsoTime
    finished_at: IsoTime
    duration_ms: float
    core_ms: float | None = None  # its share of the worker's cores while it ran (None: made without a worker)
    cost: float


class JobState(Result):
    """Where one operator's job of one asset stands (queued, running, retrying, done, dead)."""

    operator: str
    lane: str
    state: str
    attempts: int
    error_class: str | None
    error: str | None
    worker: str | None = None  # the worker (its id in ``status``) that holds the job or last held it
    updated_at: IsoTime


class AuditEntry(Result):
    at: IsoTime
    actor: str
    action: str
    entity: str
    entity_id: str


class AssetDetail(Result):
    """One asset: ``assets show --json`` and ``GET /assets/{asset}``."""

    id: UUID
    tenant: str
    media_type: str
    mime: str
    sha256: str
    size_bytes: int
    status: str
    created_at: IsoTime
    sources: list[str]
    metadata: dict[str, Any]
    artifacts: list[Artifact]
    operators: dict[str, OperatorRun]
    jobs: dict[str, JobState]
    audit: list[AuditEntry]


class DeletedAsset(Result):
    """What deleting an asset removed, besides its rows: the blobs whose bytes went (those no other
    asset or artifact references), the cached model results its analysis stored, the queued and dead
    jobs of it, and how many audit rows had their content redacted (the rows stay)."""

    id: UUID
    tenant: str
    blobs_removed: int
    cached_results_removed: int
    jobs_removed: int
    audit_rows_redacted: int


# -- exports ----------------------------------------------------------------------------------------


class ExportFormat(StrEnum):
    """What ``assets export --format`` writes: the transcript as WebVTT or SRT, the on-screen text of a
    video as WebVTT, or everything known about the asset as JSON (:class:`AssetExport`)."""

    VTT = "vtt"
    SRT = "srt"
    OCR_VTT = "ocr-vtt"
    JSON = "json"

    @property
    def media_type(self) -> str:
        """The HTTP ``Content-Type`` of the export."""
        return {"vtt": VTT_MIME, "ocr-vtt": VTT_MIME, "srt": SRT_MIME}.get(self.value, "application/json")


class ExportedSource(Result):
    """Where the asset came from, without the server's folders: a file by its name, an upload by the
    name the client gave, a URL as fetched."""

    kind: Literal["file", "upload", "url"]
    name: str


class ExportedSegment(Result):
    """A time range and/or region of the asset, with what an operator found there. ``start``/``end``
    are seconds (None for a whole image or document); ``region`` and ``data`` are the operator's own
    (a transcript's words with their times, on-screen text's box, ...)."""

    operator: str
    key: str
    start: float | None
    end: float | None
    region: dict[str, Any] | None
    text: str | None
    confidence: float | None
    data: dict[str, Any]


class AssetExport(Result):
    """Everything known about one asset, as one document: ``assets export --format json`` and
    ``GET /assets/{asset}/export.json``. Segments are grouped by kind (``transcript``, ``ocr``, ``shot``,
    ...), each kind in order of start; artifacts carry their lineage; ``operators`` holds each
    operator's last run. Blobs are named by their SHA-256; no path of the server is in it (paths in
    messages read ``…``). Embedding vectors are left out."""

    version: Literal[1] = 1
    id: UUID
    media_type: str
    mime: str
    sha256: str
    size_bytes: int
    status: str
    created_at: IsoTime
    sources: list[ExportedSource]
    metadata: dict[str, Any]
    segments: dict[str, list[ExportedSegment]]
    artifacts: list[Artifact]
    operators: dict[str, OperatorRun]


# -- jobs -------------------------------------------------------------------------------------------


class DeadLetterInfo(Result):
    job_id: str
    kind: str
    lane: str
    group: str
    payload: dict[str, Any]
    attempts: int
    error_class: str
    message: str
    traceback: str | None  # None over HTTP for keys other than admin: it names the server's files
    failed_at: IsoTime

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterInfo:
        job = letter.job
        return cls(job_id=job.id, kind=job.kind, lane=job.lane.value, group=job.group, payload=job.payload,
                   attempts=letter.attempts, error_class=letter.error_class, message=letter.message,
                   traceback=letter.traceback, failed_at=letter.failed_at)  # fmt: skip

    def without_traceback(self) -> DeadLetterInfo:
        return self.model_copy(update={"traceback": None})


class DeadLetterList(Result):
    """``jobs dlq --json`` and ``GET /v1/jobs/dead``; ``next_cursor`` as in :class:`AssetList`."""

    dead_letters: list[DeadLetterInfo]
    next_cursor: str | None = None

    def without_tracebacks(self) -> DeadLetterList:
        return self.model_copy(update={"dead_letters": [d.without_traceback() for d in self.dead_letters]})


class JobDetail(Result):
    """One job (``ASSET_ID:OPERATOR``): its state in its asset's pipeline, its dead letter if any."""

    job_id: str
    state: JobState | None
    dead_letter: DeadLetterInfo | None

    def without_traceback(self) -> JobDetail:
        letter = self.dead_letter.without_traceback() if self.dead_letter else None
        return self.model_copy(update={"dead_letter": letter})


class Reprocessed(Result):
    """What ``reprocess`` queued per operator, for which assets; after waiting, the assets that failed
    and, per operator, the assets still stale by this process's settings (a worker with other
    settings ran them)."""

    queued: dict[str, int]
    assets: list[UUID]
    failed: list[UUID]
    still_stale: dict[str, int]


# -- search -----------------------------------------------------------------------------------------


class MomentResult(Result):
    """A stretch of an asset a search found (adjacent and overlapping hits merged). ``score`` is
    its relevance, 0 to 1, the same scale in every mode (:mod:`mediasift.search.relevance`); ``snippet``
    its best text, and ``highlights`` the query's words in it as ``[start, end)`` offsets in
    Unicode code points (a page wraps each in ``<mark>``); ``keyframe`` the sha256 of a picture
    showing it (a video shot's keyframe covering it, an image's thumbnail; ``GET /v1/blobs/{sha256}``),
    None when there is none; ``matched`` the rankings that found it (``keyword``, ``text``, ``clip``)."""

    asset_id: UUID
    media_type: str
    source_path: str | None
    start: float | None
    end: float | None
    score: float = Field(ge=0, le=1)
    snippet: str
    highlights: list[tuple[int, int]]
    kind: str
    matched: list[str]
    keyframe: str | None

    @classmethod
    def of(cls, moment: Moment) -> MomentResult:
        return cls(
            asset_id=moment.asset_id, media_type=moment.media_type, source_path=moment.source_path,
            start=moment.start, end=moment.end, score=moment.relevance, snippet=moment.snippet,
            highlights=list(moment.highlights), kind=moment.kind, matched=list(moment.matched),
            keyframe=moment.picture,
        )  # fmt: skip


class AssetResult(Result):
    """An asset a search found: ``score`` is its best moment's, ``keyframe`` the first picture among
    its moments', ``moments`` its best moments first (at most five)."""

    asset_id: UUID
    media_type: str
    source_path: str | None
    score: float = Field(ge=0, le=1)
    keyframe: str | None
    moments: list[MomentResult]

    @classmethod
    def of(cls, found: AssetAnswer) -> AssetResult:
        return cls(
            asset_id=found.asset_id, media_type=found.media_type, source_path=found.source_path,
            score=found.relevance, keyframe=found.picture, moments=[MomentResult.of(m) for m in found.moments],
        )  # fmt: skip


class SearchResults(Result):
    """``search --json`` and ``GET /v1/search``: best first, in the order of the search's ranking
    (hybrid: reciprocal rank fusion, which rewards words and meaning agreeing; a result may rank
    above one with a higher score). ``group`` says what ``results`` are: ``asset`` (the default),
    one per asset with its best moments; ``moment``, one per moment."""

    query: str
    mode: SearchMode
    group: Group
    results: list[AssetResult] | list[MomentResult]

    @classmethod
    def of(
        cls, query: str, mode: SearchMode, group: Group, found: Sequence[AssetAnswer] | Sequence[Moment]
    ) -> SearchResults:
        results: list[AssetResult] | list[MomentResult] = (
            [AssetResult.of(item) for item in found if isinstance(item, AssetAnswer)]
            if group is Group.ASSET
            else [MomentResult.of(item) for item in found if isinstance(item, Moment)]
        )
        return cls(query=query, mode=mode, group=group, results=results)


class SimilarMatch(Result):
    """A moment of the asset asked about (``start``/``end``) and the like moment of the other."""

    start: float | None
    end: float | None
    other_start: float | None
    other_end: float | None
    similarity: float | None
    phash_distance: int | None


class SimilarItem(Result):
    asset_id: UUID
    media_type: str
    source_path: str | None
    basis: str
    similarity: float
    phash_distance: int | None
    near_duplicate: bool
    # of the query's pictures or text segments compared (a video's first 64), the share with a near match here
    matched_share: float
    matches: list[SimilarMatch]


class SimilarList(Result):
    """``similar ID --json`` and ``GET /assets/{asset}/similar``: near-duplicates first."""

    asset_id: UUID
    similar: list[SimilarItem]

    @classmethod
    def of(cls, asset_id: UUID, found: Sequence[SimilarAsset]) -> SimilarList:
        return cls(asset_id=asset_id, similar=[SimilarItem.model_validate(item.to_json()) for item in found])


class PictureMatches(Result):
    """``similar --image FILE --json`` and ``POST /v1/search/by-image``: the assets whose pictures
    (images, video keyframes) are most like the one given, near-duplicates first; each match's
    ``other_start``/``other_end`` is the video shot's time (None for an image). ``phash`` is the
    picture's own perceptual hash."""

    phash: str
    similar: list[SimilarItem]

    @classmethod
    def of(cls, phash: str, found: Sequence[SimilarAsset]) -> PictureMatches:
        return cls(phash=phash, similar=[SimilarItem.model_validate(item.to_json()) for item in found])


class DuplicateMember(Result):
    """An asset in a cluster of duplicates: every place it was ingested from, first seen first."""

    asset_id: UUID
    media_type: str
    sources: list[str]
    duration: float | None

    @classmethod
    def of(cls, member: Member) -> DuplicateMember:
        return cls(asset_id=member.asset_id, media_type=member.media_type, sources=member.sources,
                   duration=member.duration)  # fmt: skip


class ExactCopies(Result):
    """Copies with the same bytes (``basis`` "file": one asset ingested from several sources, or a
    file in several tenants) or the same coded video stream in other files ("stream")."""

    basis: Literal["file", "stream"]
    members: list[DuplicateMember]


class DuplicatePair(Result):
    """Two videos of a cluster and how they align: ``relation`` "copy" (each covers the other),
    "a_in_b" or "b_in_a" (a trim, or one inside the other); ``offset_s``: where ``a``'s start falls
    on ``b``'s clock; ``coverage_a``/``coverage_b``: the share of each one's picture matched;
    ``matched_s``: seconds of picture matched over ``matched_shots`` shots; ``mean_distance``: bits
    (of 64) between matched frames' perceptual hashes."""

    a: UUID
    b: UUID
    relation: Literal["copy", "a_in_b", "b_in_a"]
    offset_s: float
    coverage_a: float
    coverage_b: float
    matched_s: float
    matched_shots: int
    mean_distance: float


class SimilarVideos(Result):
    """Videos that are copies of one another by their temporal fingerprints (re-encoded, resized,
    trimmed, or one inside another), with the pairs that joined them; exact copies of a member are
    members too (a pair names one of them)."""

    members: list[DuplicateMember]
    pairs: list[DuplicatePair]

    @classmethod
    def of(cls, cluster: SimilarCluster) -> SimilarVideos:
        pairs = [
            DuplicatePair(a=pair.a, b=pair.b, relation=pair.alignment.relation, offset_s=pair.alignment.offset_s,  # type: ignore[arg-type]
                          coverage_a=pair.alignment.coverage_a, coverage_b=pair.alignment.coverage_b,
                          matched_s=pair.alignment.matched_s, matched_shots=pair.alignment.matched_shots,
                          mean_distance=pair.alignment.mean_distance)
            for pair in cluster.pairs
        ]  # fmt: skip
        return cls(members=[DuplicateMember.of(m) for m in cluster.members], pairs=pairs)


class DuplicateReport(Result):
    """``duplicates --json`` and ``GET /v1/duplicates``: exact copies apart from similar videos, the
    largest clusters first, at most ``limit`` of each (``more_exact``/``more_similar``: there were
    more); ``videos_compared``: the videos with a fingerprint whose pictures were aligned."""

    exact: list[ExactCopies]
    similar: list[SimilarVideos]
    videos_compared: int
    more_exact: bool
    more_similar: bool

    @classmethod
    def of(cls, found: Duplicates) -> DuplicateReport:
        return cls(
            exact=[ExactCopies(basis=c.basis, members=[DuplicateMember.of(m) for m in c.members])  # type: ignore[arg-type]
                   for c in found.exact],
            similar=[SimilarVideos.of(cluster) for cluster in found.similar],
            videos_compared=found.videos_compared, more_exact=found.more_exact, more_similar=found.more_similar,
        )  # fmt: skip


# -- status -----------------------------------------------------------------------------------------


class AssetCounts(Result):
    total: int
    bytes: int
    by_media_type: dict[str, dict[str, int]]  # media type -> status -> assets
    pending: int
    failed: int


class QueueInfo(Result):
    broker: str
    ready: dict[str, int]  # per lane
    delayed: int
    in_flight: int
    dead: int
    depth: int
    high_water: int
    jobs: dict[str, dict[str, dict[str, int]]]  # lane -> operator -> state -> jobs
    oldest_queued_s: dict[str, float] = {}  # per lane: how long the longest-waiting queued job has waited


class WorkerInfo(Result):
    """A worker alive (heartbeating), what it holds and what it has done."""

    id: str
    host: str
    pid: int
    broker: str
    lanes: list[str]
    operators: list[str] | None  # the only operators it runs; None: every one
    concurrency: int
    started_at: IsoTime
    heartbeat_at: IsoTime
    in_flight: int
    processed: int
    failed: int


class EmbeddingCount(Result):
    dim: int
    count: int


class ConfidenceWindow(Result):
    """Confidence of one window's results; the figures are None when it has none."""

    count: int
    mean: float | None
    p10: float | None
    p50: float | None
    p90: float | None
    bins: list[int] = []  # results in each tenth of [0, 1], lowest first


class ConfidenceEntry(Result):
    """One operator's kind of result: its recent window, its baseline, and the drift between
    (population stability index; None until both windows have enough results)."""

    recent: ConfidenceWindow
    baseline: ConfidenceWindow
    psi: float | None
    shifted: bool


class EmbeddingDrift(Result):
    """One embedding model's recent vectors against its baseline's (see ``obs/drift.py``): the centroid's
    shift beyond sampling noise and the spread's ratio, in baseline radii; None without enough vectors."""

    recent: int
    baseline: int
    centroid_shift: float | None
    spread_ratio: float | None
    shifted: bool


class InputMix(Result):
    """One dimension of the inputs (resolution, duration, language): each category's share of the
    assets created in the recent window and in the baseline, and their population stability index."""

    recent: dict[str, float]
    baseline: dict[str, float]
    counts: dict[str, int]  # recent, baseline
    psi: float | None
    shifted: bool


class Drift(Result):
    """Drift beyond confidence: per embedding model, and per dimension of the inputs' mix."""

    embeddings: dict[str, EmbeddingDrift]
    inputs: dict[str, InputMix]


class OperatorSpend(Result):
    """One operator's current runs on one media type: what they cost and took, in all and per item."""

    runs: int
    failed: int
    usd: float
    seconds: float
    usd_per_item: float
    seconds_per_item: float


class MediaSpend(Result):
    items: int  # assets with at least one run
    usd: float  # the model calls' cost
    seconds: float  # the operators' run time (core-seconds on a worker sized to its cores)
    usd_per_item: float
    seconds_per_item: float
    minutes: float = 0.0  # of audio or video analysed; 0 for images and texts
    compute_usd: float = 0.0  # ``seconds`` at the configured price of a CPU-hour
    compute_usd_per_minute: float | None = None  # of audio or video; None without minutes
    operators: dict[str, OperatorSpend]


class ModelShare(Result):
    usd: float
    share: float  # of every model's cost
    calls: float
    items: float


class Savings(Result):
    """What the result cache and the routers saved (estimates from average costs; see ``obs/cost.py``)."""

    cache_usd: float
    cache_seconds: float
    routing_usd: float
    by_model: dict[str, dict[str, float]]  # model -> cache_usd, routing_usd


class CostReport(Result):
    """``mediasift cost --json`` and ``GET /v1/cost``: cost and time per item by media type and operator
    (runs finished since ``since``), each model's share and the savings (since the counters began)."""

    since: IsoTime | None
    media_types: dict[str, MediaSpend]
    models: dict[str, ModelShare]
    saved: Savings
    total_usd: float
    total_seconds: float
    items: int


class RunSeconds(Result):
    """An operator's successful runs' durations: cumulative counts at each upper bound (seconds)."""

    bounds: list[float]
    le: list[int]
    count: int
    sum_s: float


class MediaCost(Result):
    assets: int
    total_usd: float
    per_asset_usd: float
    processing_s_per_asset: float
    minutes: float = 0.0  # of audio or video analysed
    usd_per_minute: float | None = None  # the run time at the price of a CPU-hour, per minute of media


class Status(Result):
    """``status --json`` and ``GET /status``: what is stored, queued where, who works, at what cost."""

    home: str
    database: str  # embedded or external
    assets: AssetCounts
    queue: QueueInfo
    workers: list[WorkerInfo]
    embeddings: dict[str, EmbeddingCount]  # per model
    models: dict[str, dict[str, float]]  # model -> counter -> value, over every process
    confidence: dict[str, dict[str, ConfidenceEntry]]  # operator -> kind
    cost: dict[str, MediaCost]  # per media type
    compute_usd_per_hour: float = 0.0  # the configured price of a CPU-hour that ``usd_per_minute`` uses
    gpus: list[GpuStats]
    drift: Drift | None = None
    spend: CostReport | None = None  # every current run: what ``mediasift cost`` says
    run_seconds: dict[str, RunSeconds] = {}  # per operator


# -- models -----------------------------------------------------------------------------------------


class ModelInfo(Result):
    """A model: its declaration, its state in this process, and its counters over every process."""

    id: str
    version: str
    task: str
    input: str
    runtime: str
    output: str
    batches: bool
    batch_size: int
    memory_mb: int
    cost_per_item_usd: float
    optional: bool
    state: str  # available, loaded or missing
    problem: str | None
    load_seconds: float | None
    device: str
    counters: dict[str, float]


class ModelListing(Result):
    """``models list --json``: the device the models run on, and every model."""

    device: str
    models: list[ModelInfo]


# -- keys and the audit of API actions --------------------------------------------------------------


class ApiKeyInfo(Result):
    """An API key as listed: never its secret."""

    id: str
    tenant: str
    scope: str
    name: str
    created_at: IsoTime
    expires_at: IsoTime | None
    revoked_at: IsoTime | None


class CreatedKey(ApiKeyInfo):
    """A key as made: ``key`` is the only time the secret is shown."""

    key: str


class ApiKeyList(Result):
    keys: list[ApiKeyInfo]


class WebhookInfo(Result):
    """A webhook as listed (never its secret): where a tenant's events of some types are POSTed,
    signed, and how the latest try went."""

    id: UUID
    tenant: str
    url: str
    event_types: list[str]
    created_at: IsoTime
    last_attempt_at: IsoTime | None = None
    last_status: str | None = None


class CreatedWebhook(WebhookInfo):
    """A webhook as made: ``secret`` (``whsec_`` and base64, the Standard Webhooks form) is the only
    time the signing secret is shown."""

    secret: str


class WebhookList(Result):
    webhooks: list[WebhookInfo]


class ApiAction(Result):
    """One action over the API: which key of which tenant, from which client address, did what to
    which target, and the HTTP status it ended with."""

    id: int
    at: IsoTime
    key_id: str | None
    tenant: str | None
    client: str
    action: str
    target: str
    status: int
    detail: dict[str, Any]


class ApiActionList(Result):
    """``GET /v1/audit``: oldest first, ``next_cursor`` as in :class:`AssetList`."""

    actions: list[ApiAction]
    next_cursor: str | None = None


# -- people ---------------------------------------------------------------------------------------


class Person(Result):
    """A person: faces of one tenant grouped as one face, named or not. ``id`` is stable until the
    person is merged into another."""

    id: int
    name: str | None
    face_count: int
    asset_count: int
    created_at: IsoTime
    updated_at: IsoTime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Person:
        return cls.model_validate({f: row[f] for f in cls.model_fields})


class PersonList(Result):
    """A tenant's people, oldest first; ``next_cursor``, when there are more, asks for the next page."""

    people: list[Person]
    next_cursor: str | None = None


class Appearance(Result):
    """One face of a person: the asset, when in it (a video's shot; null for an image), and where in
    the picture (x, y, width, height in pixels)."""

    face_id: int
    asset_id: UUID
    media_type: str
    start: float | None
    end: float | None
    box: list[int]
    confidence: float
    frame: str | None = None  # the picture it was found in: "image" for an image, a keyframe's key in a video


class PersonDetail(Person):
    """A person and where they appear, newest asset first (at most ``limit`` faces)."""

    appearances: list[Appearance]


class PeopleMerged(Result):
    """The person that remains, and the ids merged into it (gone now)."""

    person: Person
    merged: list[int]


class PeopleSplit(Result):
    """A split: the person the faces left, and the new person they make."""

    person: Person
    split_off: Person
