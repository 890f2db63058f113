"""Every setting in one place, read from the environment (prefix ``MEDIASIFT_``) by the entry points
(the CLI, the HTTP API and the workers they start) through :func:`load_settings`, then passed down:
nothing below them reads the environment."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("mediasift", appauthor=False))


def _default_built_models() -> Path:
    return Path(platformdirs.user_cache_dir("mediasift", appauthor=False)) / "built"


class Settings(BaseSettings):
    """Runtime configuration.

    ``home`` is the data directory: the embedded database, blobs and caches all live under it.
    ``database_url`` points at an external PostgreSQL with pgvector; when empty the embedded
    server in ``home/pg`` is started on demand.
    """

    model_config = SettingsConfigDict(env_prefix="MEDIASIFT_", extra="ignore", populate_by_name=True)

    home: Path = Field(default_factory=_default_home)
    database_url: str = ""

    # Blob storage: empty keeps blobs as files under ``home/blobs``; ``s3://bucket/optional/prefix``
    # puts them in an S3 bucket (created on first write). An empty endpoint means AWS itself, and
    # empty credentials mean boto3's own chain (environment, ~/.aws, instance role).
    blob_url: str = ""
    s3_endpoint_url: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_region: str = "us-east-1"

    # Jobs: the broker (empty = the database itself; redis://… or nats://…) and its semantics.
    broker_url: str = ""
    queue_namespace: str = "mediasift"
    lease_s: float = Field(30.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    job_timeout_s: float = Field(900.0, gt=0)
    retry_base_s: float = 2.0
    retry_cap_s: float = 300.0
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0
    queue_high_water: int = Field(10_000, ge=1)
    queue_low_water: int = Field(5_000, ge=0)  # under queue_high_water
    # Jobs computing at once. More than the cores (on two) fills the gaps of those waiting for the GIL,
    # the database or a batch; each is counted its share of the cores (mediasift.jobs.permits).
    worker_concurrency: int = Field(4, ge=1)
    # Extra operators, "package.module:ClassName" comma-separated; one named like a shipped operator replaces it.
    operator_plugins: str = ""
    interactive_max_files: int = 10

    # Events out (asset.analysed, asset.failed, asset.deleted; docs/events.md): relayed by every worker
    # to the broker's topic (NATS subject <namespace>.events.<type>, Redis stream <namespace>:events),
    # to Kafka when kafka_bootstrap is set, and to the tenants' webhooks.
    kafka_bootstrap: str = ""  # "host:port[,host:port]": also publish events to Kafka; empty = not
    kafka_topic: str = "mediasift.events"  # the Kafka topic (each record keyed by its asset id)
    events_topic_max: int = 1_000_000  # events the broker's topic keeps (Redis MAXLEN ~, JetStream max_msgs)
    events_poll_s: float = 1.0  # a relay looks for due events this often when no NOTIFY wakes it sooner
    events_batch: int = 500  # deliveries one relay claims and publishes at once
    webhook_timeout_s: float = 10.0  # one webhook POST, connecting included; slower is a failed try
    webhook_max_attempts: int = 12  # tries of one event at one webhook (retry_base_s backoff) before its dead letter

    # Ingest limits: what is refused before it is decoded.
    max_image_pixels: int = Field(120_000_000, ge=1)
    max_video_pixels: int = Field(8192 * 8192, ge=1)
    max_file_bytes: int = Field(20 * 1024**3, ge=1)
    max_text_bytes: int = Field(50 * 1024**2, ge=1)

    # Pipeline parameters.
    max_keyframes: int = 240
    text_chunk_chars: int = 800
    text_chunk_overlap_chars: int = 150
    label_min_confidence: float = 0.15
    object_min_confidence: float = 0.5
    ocr_min_confidence: float = 0.5
    ocr_extra_frames_per_minute: int = 20  # video: frames between keyframes read in full for new text, at most
    thumbnail_px: int = 320
    # A copy browsers play (H.264/AAC in MP4) of each video or sound they cannot (HEVC, AVI, WMV, AC-3):
    # made at analysis, at most this many pixels a side; off: pages offer such originals for download.
    playable_copies: bool = True
    playable_max_side: int = Field(1280, ge=16, le=4096)
    # Threads of one model call (ONNX Runtime, CTranslate2, OpenCV, LiteRT, YuNet's OpenMP).
    # 0: the cores divided by worker_concurrency (at least 1), so concurrent jobs do not oversubscribe
    # the cores; spinning runtimes slow down several-fold when they do (docs/operations.md, Throughput).
    model_threads: int = 0
    # Models mediasift builds from package files (the object detector's ONNX graph), shared by every
    # data directory of the user: $XDG_CACHE_HOME/mediasift/built, else ~/.cache/mediasift/built.
    built_models_dir: Path = Field(default_factory=_default_built_models)

    # Inference layer (see docs/inference.md for the trade-offs behind each default).
    model_idle_unload_s: float = 600.0  # 0 keeps loaded models for the life of the process
    compute_usd_per_hour: float = 0.08  # what local model compute costs, for cost per item
    inference_cache: bool = True  # reuse results for identical inputs (model, version, input hash)
    batch_max_size: int = 32  # cross-job micro-batches: most inputs per model call
    batch_wait_ms: float = 20.0  # how long batch-lane requests wait for company
    # Interactive requests (a search's query) do not wait for company: one goes as soon as the model is
    # free, and those that came while it computed go together in the next call.
    interactive_batch_wait_ms: float = 0.0
    text_embedding_tier: str = "minilm"  # "minilm" (int8 MiniLM) or "wordllama" (static, ~50x cheaper)
    whisper_compute_type: str = "int8"  # CTranslate2 compute type: "int8" or "float32"
    speech_escalate_logprob: float = -0.7  # tiny.en result below this average log-probability goes to base
    language_fast_min_confidence: float = 0.8  # lingua fast mode below this asks the accurate mode (eval/language.py)
    ocr_timeout_s: float = 60.0  # per picture, before the OCR fallback takes over
    # A remote OpenAI-compatible endpoint (vLLM, Ollama, a hosted API); empty = not used.
    remote_base_url: str = ""
    remote_api_key: str = ""
    remote_chat_model: str = ""  # vision-language model for captions; empty = no captions
    remote_embedding_model: str = ""
    remote_timeout_s: float = 60.0
    remote_max_retries: int = 4
    remote_requests_per_minute: int = 60
    remote_tokens_per_minute: int = 100_000
    remote_usd_per_1k_input_tokens: float = 0.0
    remote_usd_per_1k_output_tokens: float = 0.0
    # Monitoring: confidence drift compares the last window of results with a baseline before it.
    drift_window_h: float = 24.0
    drift_baseline_days: float = 30.0
    drift_min_items: int = 50  # fewer results in either window: no drift figure
    # Traces: with an OTLP/HTTP endpoint (the standard variable, or MEDIASIFT_OTEL_ENDPOINT), one trace per
    # asset from upload through every job and model call; empty = no tracing at all (README, Monitoring).
    otel_endpoint: str = Field(
        default="",
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "MEDIASIFT_OTEL_ENDPOINT", "otel_endpoint"),
    )
    otel_service_name: str = Field(
        default="mediasift",
        validation_alias=AliasChoices("OTEL_SERVICE_NAME", "MEDIASIFT_OTEL_SERVICE_NAME", "otel_service_name"),
    )
    otel_timeout_s: float = 10.0  # one export to the collector
    # Logs: "text" (a line a person reads) or "json" (one JSON object a line, with the request, asset and job ids).
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"

    # HTTP API (``mediasift serve``, ``mediasift up``). Requests carry an API key (``mediasift keys create``).
    api_token: str = ""  # a shared token that acts as an admin key of the default tenant (prefer keys)
    metrics_token: str = ""  # when set, /metrics needs "Authorization: Bearer <token>"; open otherwise
    api_max_body_bytes: int = 1024 * 1024  # every body but an upload's (which max_file_bytes bounds)
    api_requests_per_minute: float = 600.0  # per key, after a burst of api_burst; 0 = no limit
    api_burst: int = 60
    api_ready_timeout_s: float = 5.0  # /readyz: how long the database and the broker have to answer
    api_wait_timeout_s: float = 60.0  # ?wait=true: how long an upload waits for the workers before a 202
    # Host headers answered (comma-separated; "*" any). Empty: loopback names when serving on loopback,
    # any otherwise, so a page that rebinds its DNS name to 127.0.0.1 cannot reach a local server.
    api_trusted_hosts: str = ""
    api_cors_origins: str = ""  # browser origins that may call the API (comma-separated); none by default
    api_header_timeout_s: float = 10.0  # a request's line and headers must all arrive within this, or it is closed
    api_keepalive_timeout_s: int = 5  # an idle kept-alive connection is closed after this (whole seconds)
    api_max_concurrency: int = 200  # requests handled at once; more are answered 503 with Retry-After
    # searches run at once per API process (by meaning alone: twice as many), the rest wait in turn; 0: its cores
    api_search_concurrency: int = 0
    api_search_wait_s: float = Field(30.0, gt=0)  # a search waits this long for its turn at most, then 503
    api_shutdown_grace_s: int = 30  # on SIGTERM/SIGINT, requests in flight get this long to finish
    # Web UI (served by the API under /): the secret that signs session cookies (a file in home,
    # made on first use, when empty; give every API replica the same one), and how long a session lasts.
    ui_secret: str = ""
    ui_session_hours: float = 12.0
    url_fetch_timeout_s: float = 60.0  # POST /assets/from-url: connect and between-bytes timeout
    url_fetch_deadline_s: float = 300.0  # a whole fetch, redirects included, is cut off after this
    # a fetch slower than this over the last url_fetch_rate_window_s, once url_fetch_rate_grace_s have
    # passed, is cut off (a server that trickles bytes holds a thread no longer than that)
    url_fetch_min_bytes_per_s: int = 10_000
    url_fetch_rate_grace_s: float = 10.0
    url_fetch_rate_window_s: float = 5.0
    url_fetch_concurrency: int = 8  # fetches at once per API process (their own threads); one more is a 429
    url_fetch_max_redirects: int = 5
    url_fetch_private: bool = False  # allow URLs on loopback, private and link-local addresses
    # hosts fetched whatever their address (comma-separated names as written in URLs, e.g. an in-house
    # media server); every other host, and every redirect hop, must resolve to public addresses
    url_fetch_allowed_hosts: str = ""

    # A CLIP-style image-text model exported to ONNX (see docs/inference.md); empty = not used.
    clip_dir: Path | None = None
    clip_tags: str = ""  # zero-shot tags, comma-separated; empty = the folder's tags.txt, if any

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value  # "info" as "INFO"

    @model_validator(mode="after")
    def _water_marks_in_order(self) -> Settings:
        if self.queue_low_water >= self.queue_high_water:
            raise ValueError(
                f"queue_low_water ({self.queue_low_water}) must be under queue_high_water ({self.queue_high_water})"
            )
        return self

    @field_validator("model_threads")
    @classmethod
    def _threads_per_job(cls, value: int, info: ValidationInfo) -> int:
        if value > 0:
            return value
        return threads_per_job(available_cores(), int(info.data.get("worker_concurrency", 1)))

    @cached_property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @cached_property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @cached_property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def cors_origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.api_cors_origins.split(",") if o.strip())

    @property
    def url_fetch_trusted(self) -> frozenset[str]:
        """``url_fetch_allowed_hosts`` as lower-case names without a trailing dot."""
        return frozenset(h.strip().lower().rstrip(".") for h in self.url_fetch_allowed_hosts.split(",") if h.strip())

    @property
    def event_sinks(self) -> tuple[str, ...]:
        """The sinks besides webhooks an event is queued for: "topic" when the broker is Redis or NATS
        (the PostgreSQL broker has none), "kafka" when ``kafka_bootstrap`` is set."""
        scheme = self.broker_url.split("://", 1)[0] if self.broker_url else "postgresql"
        topic = ("topic",) if scheme in ("redis", "rediss", "unix", "nats", "tls") else ()
        return topic + (("kafka",) if self.kafka_bootstrap.strip() else ())

    def ensure_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_job(cores: int, concurrency: int) -> int:
    """Model threads that let ``concurrency`` jobs share ``cores`` without oversubscribing them."""
    return max(1, cores // max(1, concurrency))


def calls_at_once(threads: int) -> int:
    """Calls of one model that may compute at once on this process's cores, each on ``threads``."""
    return max(1, available_cores() // max(1, threads))


def load_settings(**options: Any) -> Settings:
    """The settings the environment (``MEDIASIFT_*``) gives, with a command's ``options`` over them
    (a worker's ``--concurrency``, so its model threads are sized for it); for the entry points only."""
    return Settings(**options)
