"""The HTTP API, versioned under ``/v1``: the CLI's contracts over HTTP (same JSON), plus uploads,
URLs, blobs, keys and the audit of API actions, for many tenants at once.

Every request but ``/healthz``, ``/readyz`` and ``/metrics`` carries an API key, checked by the gate
(:mod:`mediasift.api.gate`) before any body is read; what a route reads and writes is the key's
tenant's. Errors are ``application/problem+json``. Handlers that touch the database are plain
functions, which FastAPI runs in its thread pool. Ingest over HTTP queues work for the workers and
never analyses in this process: ``wait=true`` waits for them, then answers 202.

The web UI (:mod:`mediasift.api.ui`) is served by the same app under ``/``, with its static files
under ``/static``; it is left out of ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles

from mediasift.access import DEFAULT_TENANT, Principal, Scope
from mediasift.api import problems
from mediasift.api.admission import WHOLE, FifoAdmission, SearchesBusy
from mediasift.api.gate import BodyTooLarge, Gate, GateRules
from mediasift.api.hosts import TrustedHosts
from mediasift.api.latency import RequestTimer, request_histogram
from mediasift.api.problems import ProblemResponse, problem
from mediasift.api.ratelimit import RequestLimiter
from mediasift.api.receive import Unacceptable
from mediasift.api.request_context import RequestContext
from mediasift.api.routes import admin, assets, blobs, exports, jobs, people, search, webhooks
from mediasift.api.routes import system as system_routes
from mediasift.api.ui.headers import SecurityHeaders
from mediasift.api.ui.render import STATIC, error_page
from mediasift.api.ui.session import Sessions, load_secret
from mediasift.api.ui.site import router as ui_router
from mediasift.config import Settings, available_cores, load_settings
from mediasift.cursors import BadCursor
from mediasift.net.errors import FetchBusy
from mediasift.net.pool import FetchPool
from mediasift.obs import logs
from mediasift.service import AssetNotFound, Mediasift, NotReady, QueueFull
from mediasift.service_errors import (
    AmbiguousAsset,
    BadPersonName,
    BadQuery,
    NothingToExport,
    PersonConflict,
    PersonNotFound,
)

# A multipart body is the file plus a few hundred bytes of headers and boundaries.
MULTIPART_OVERHEAD = 64 * 1024
# Statuses the gate may give on any guarded route (and 422, a request that does not validate), documented on each.
GATE_STATUSES = (400, 401, 403, 413, 422, 429)
# A client address that sends this many keys that are not valid is told to wait.
REFUSED_KEYS_BURST = 20
REFUSED_KEYS_PER_MINUTE = 30


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API over the system ``settings`` describe (the environment's by default: this is an entry
    point, where the environment is read)."""
    system = Mediasift(settings or load_settings())
    s = system.settings
    logs.configure(s)
    fetches = FetchPool(s.url_fetch_concurrency)  # URL fetches run on these threads, not the shared ones

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        fetches.close()
        system.close()

    registry = system.metrics_registry()
    app = FastAPI(
        title="mediasift",
        version=version("mediasift"),
        summary="Ingest, analyse and search video, audio, images and text.",
        lifespan=lifespan,
        docs_url=None,  # the interactive docs would load their scripts from a CDN; /openapi.json needs a key
        redoc_url=None,
        responses=problems.documented(*GATE_STATUSES),
    )
    problems.install(app, as_page=error_page)
    _install_errors(app)
    app.include_router(assets.router(system, fetches))
    # Every search (the API's by text, by picture, similar and duplicates; the web UI's) takes a turn here.
    app.state.searches = searches = FifoAdmission(
        WHOLE * (s.api_search_concurrency or available_cores()), s.api_search_wait_s
    )
    app.include_router(search.router(system, searches))
    for routes in (exports, blobs, jobs, admin, webhooks, people):
        app.include_router(routes.router(system))
    app.include_router(system_routes.router(system, registry))
    failures = RequestLimiter(REFUSED_KEYS_PER_MINUTE, REFUSED_KEYS_BURST)
    sessions = Sessions(load_secret(s.ui_secret, s.home), system.keys.session_principal, s.ui_session_hours * 3600)
    app.include_router(ui_router(system, fetches, registry, sessions, failures, searches))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # Middleware runs outermost last-added: trusted hosts, CORS, the request's id and span, timing, the UI's
    # headers, then the gate.
    app.add_middleware(
        Gate,
        rules=GateRules(
            authenticate=system.keys.authenticate,
            record=system.record_api_action,
            legacy_token=s.api_token,
            legacy_principal=Principal(tenant=DEFAULT_TENANT, scope=Scope.ADMIN, key_id="token"),
            metrics_token=s.metrics_token,
            upload_paths=frozenset({"/v1/assets", "/upload"}),
            upload_limit=s.max_file_bytes + MULTIPART_OVERHEAD,
            body_limit=s.api_max_body_bytes,
            upload_limit_why=f"a file of at most {s.max_file_bytes:,} bytes (MEDIASIFT_MAX_FILE_BYTES)"
            f" (and {MULTIPART_OVERHEAD:,} bytes for a multipart form around it)",
            body_limit_why="MEDIASIFT_API_MAX_BODY_BYTES",
            limiter=RequestLimiter(s.api_requests_per_minute, s.api_burst),
            failures=failures,
            allowed_origins=s.cors_origins,
            sessions=sessions.open,
        ),
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestTimer, seconds=request_histogram(registry))
    app.add_middleware(RequestContext)
    if s.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sorted(s.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    hosts = [h.strip() for h in s.api_trusted_hosts.split(",") if h.strip()] or ["*"]
    app.add_middleware(TrustedHosts, allowed=hosts)
    return app


# Refusals answered with their message and a status, nothing more.
_PLAIN_REFUSALS: tuple[tuple[type[Exception], int], ...] = (
    (AssetNotFound, 404),
    (AmbiguousAsset, 409),
    (PersonNotFound, 404),
    (NothingToExport, 404),
    (PersonConflict, 409),
    (BadPersonName, 422),
    (BodyTooLarge, 413),
    (BadCursor, 422),
    (BadQuery, 422),
)


def _answered_with(status: int) -> Callable[[Request, Exception], Awaitable[ProblemResponse]]:
    async def handler(_: Request, exc: Exception) -> ProblemResponse:
        return problem(status, str(exc))

    return handler


def _install_errors(app: FastAPI) -> None:
    """The service's refusals as problems: what is not there (or is another tenant's) 404, what cannot
    be taken 413/422, a full queue or fetch pool 429, an unreachable database or broker 503."""

    for refusal, status in _PLAIN_REFUSALS:
        app.add_exception_handler(refusal, _answered_with(status))

    @app.exception_handler(Unacceptable)
    async def unacceptable(_: Request, exc: Unacceptable) -> ProblemResponse:
        return problem(exc.status, str(exc))

    @app.exception_handler(FetchBusy)
    async def fetch_busy(_: Request, exc: FetchBusy) -> ProblemResponse:
        return problem(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(QueueFull)
    async def queue_full(_: Request, exc: QueueFull) -> ProblemResponse:
        return problem(429, str(exc), headers={"Retry-After": "30"})

    @app.exception_handler(SearchesBusy)
    async def searches_busy(_: Request, exc: SearchesBusy) -> ProblemResponse:
        return problem(503, str(exc), headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(NotReady)
    async def not_ready(_: Request, exc: NotReady) -> ProblemResponse:
        return problem(503, str(exc))
