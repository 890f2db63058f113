"""The web UI's pages: search (the home page), an asset, upload, jobs and ops."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from mediasift.api.admission import FifoAdmission, SearchesBusy, share
from mediasift.api.ui import ops, views
from mediasift.api.ui.render import page, session_of
from mediasift.db.search_filters import AssetFilters
from mediasift.media.documents import document_text
from mediasift.mediatype import MediaType
from mediasift.service import AssetNotFound, Mediasift
from mediasift.service_errors import BadQuery, PersonNotFound
from mediasift.service_models import AssetDetail, AssetResult, Group, SearchMode, SimilarList

RESULTS = 12  # assets per search, each with its best moments
LIBRARY_PAGE = 24
SIMILAR = 8
TEXT_SHOWN = 100_000  # characters of a document its page shows; the rest is downloaded
TEXT_BYTES_READ = 4 * TEXT_SHOWN  # what is read of it for them: a character is at most 4 bytes (UTF-32)
PERSON_ASSETS = 1000  # faces read to list the assets a person appears in

Text = Annotated[str, Query(max_length=1000)]
Short = Annotated[str, Query(max_length=64)]


def _date(name: str, text: str) -> date | None:
    """The day ``text`` names (YYYY-MM-DD), None when empty; ValueError saying so otherwise."""
    text = text.strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a day (YYYY-MM-DD)") from None


def _day_start(day: date | None, *, days_after: int = 0) -> datetime | None:
    """Midnight (UTC) that starts ``day``, or the day ``days_after`` it."""
    return datetime.combine(day + timedelta(days=days_after), time(), UTC) if day else None


def _number(name: str, text: str) -> float | None:
    """Seconds ``text`` gives, None when empty; ValueError saying so for anything else."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:
        raise ValueError(f"{name}: {text!r} is not a number of seconds")
    return value


def _choice(name: str, text: str, choices: Iterable[str]) -> str | None:
    """``text`` when it is one of ``choices``, None when empty; ValueError naming them otherwise."""
    allowed = list(choices)
    if not text or text in allowed:
        return text or None
    raise ValueError(f"{name}: {text!r} is none of {', '.join(allowed)}")


def router(system: Mediasift, searches: FifoAdmission) -> APIRouter:
    ui = APIRouter(include_in_schema=False)

    def cards(asset_ids: list[UUID], tenant: str | None) -> dict[UUID, views.AssetCard]:
        found = {}
        for asset_id in asset_ids:
            try:
                detail = system.describe(asset_id, tenant=tenant)
            except AssetNotFound:  # deleted since the search
                continue
            found[asset_id] = views.card(detail)
        return found

    @ui.get("/")
    def search_page(
        request: Request,
        q: Text = "",
        type: Short = "",
        mode: Short = "hybrid",
        since: Short = "",
        until: Short = "",
        min_duration: Short = "",
        max_duration: Short = "",
        language: Short = "",
        person: Annotated[str, Query(max_length=200)] = "",
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> Response:
        principal = session_of(request).principal
        tenant = principal.visible_tenant()
        form = {"q": q, "type": type, "mode": mode, "since": since, "until": until, "min_duration": min_duration,
                "max_duration": max_duration, "language": language, "person": person}  # fmt: skip

        def unanswered(code: int, who: Any, **why: Any) -> Response:
            """The page without results: a search refused (``problem``) or turned away (``busy``)."""
            return page(request, "search.html", code=code, form=form, groups=[], library=[], next_cursor=None,
                        searched=False, who=who, **why)  # fmt: skip

        try:
            media_type = _choice("type", type, (m.value for m in MediaType))
            search_mode = _choice("mode", mode, (m.value for m in SearchMode)) or SearchMode.HYBRID.value
        except ValueError as exc:
            return unanswered(422, None, problem=str(exc))
        who = None
        if person.strip():  # one of the session's own tenant's people, by id or name
            try:
                who = system.people.get(principal.owning_tenant(), person, limit=PERSON_ASSETS)
            except PersonNotFound:
                return page(request, "search.html", form=form, groups=[], library=[], next_cursor=None,
                            searched=True, who=None)  # fmt: skip
        if not q.strip() and who is not None:  # where the person appears
            shown = cards(list(dict.fromkeys(a.asset_id for a in who.appearances)), tenant)
            assets = [c for c in shown.values() if media_type in (None, c.media_type)]
            return page(request, "search.html", form=form, groups=[], library=assets, next_cursor=None,
                        searched=False, who=who)  # fmt: skip
        if not q.strip():
            library = system.asset_page(media_type=media_type, tenant=tenant, cursor=cursor, limit=LIBRARY_PAGE)
            assets = list(cards([a.asset_id for a in library.assets], tenant).values())
            return page(request, "search.html", form=form, groups=[], library=assets,
                        next_cursor=library.next_cursor, searched=False, who=None)  # fmt: skip
        try:  # the until day is included: the range ends when the next day starts
            filters = AssetFilters(
                ingested_after=_day_start(_date("since", since)),
                ingested_before=_day_start(_date("until", until), days_after=1),
                min_duration=_number("min_duration", min_duration), max_duration=_number("max_duration", max_duration),
                language=language.strip() or None, person=str(who.id) if who else None,
            )  # fmt: skip
        except ValueError as exc:  # a value that is not one, or a range that holds nothing: say which
            return unanswered(422, who, problem=str(exc))
        try:
            chosen = SearchMode(search_mode)
            with searches.admitted(share(chosen)):
                found = system.answers(q, group=Group.ASSET, limit=RESULTS, media_type=media_type,
                                       mode=chosen, tenant=tenant, filters=filters)  # fmt: skip
        except SearchesBusy:
            return unanswered(503, who, busy=True)
        except BadQuery as exc:
            return unanswered(422, who, problem=str(exc))
        results = [r for r in found.results if isinstance(r, AssetResult)]
        groups = views.result_groups(results, cards([r.asset_id for r in results], tenant), q)
        return page(request, "search.html", form=form, groups=groups, library=[], next_cursor=None, searched=True,
                    who=who)  # fmt: skip

    @ui.get("/assets/{asset}")
    def asset_page(request: Request, asset: str) -> Response:
        tenant = session_of(request).principal.visible_tenant()
        try:
            asset_id = system.resolve(asset[:64], tenant=tenant)
            detail = system.describe(asset_id, tenant=tenant)
            document = system.exports.document(asset_id, tenant=tenant)
        except AssetNotFound:
            return page(request, "missing.html", code=404, what="asset")
        card = views.card(detail)
        exports = ["export.json"]
        for name, fmt in (("transcript.vtt", "transcript"), ("transcript.srt", "transcript"), ("ocr.vtt", "ocr")):
            if any(segment.start is not None for segment in document.segments.get(fmt, [])):  # timed text only
                exports.append(name)
        found = system.similar(asset_id, limit=SIMILAR, tenant=tenant) if detail.status == "done" else []
        similar = views.similar_items(SimilarList.of(asset_id, found).similar)
        script = {
            "boxes": views.boxes(detail, document),
            "kind": detail.media_type,
        }
        text, chars = _document_start(system, detail) if detail.media_type == "text" else ("", None)
        return page(request, "asset.html", asset=card, detail=detail, document=document, script=script,
                    transcript=views.transcript(document), labels=views.labels(document),
                    on_screen=views.on_screen_text(document), metadata=views.metadata_rows(detail.metadata),
                    similar=similar, exports=exports, text=text, text_chars=chars,
                    artifacts=sorted(detail.artifacts, key=lambda a: (a.operator, a.kind, a.key)))  # fmt: skip

    @ui.get("/upload")
    def upload_page(request: Request) -> Response:
        return page(request, "upload.html")

    @ui.get("/jobs")
    def jobs_page(
        request: Request,
        requeued: Annotated[int | None, Query(ge=0, le=1000)] = None,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> Response:
        principal = session_of(request).principal
        letters = system.dead_letter_page(None, tenant=principal.visible_tenant(), cursor=cursor, limit=100)
        if not principal.is_admin:  # a traceback names the server's files and code
            letters = letters.without_tracebacks()
        status = system.status() if principal.is_admin else None
        return page(request, "jobs.html", letters=letters.dead_letters, next_cursor=letters.next_cursor,
                    status=status, requeued=requeued)  # fmt: skip

    @ui.get("/ops")
    def ops_page(request: Request) -> Response:
        status = system.status()
        return page(request, "ops.html", per_minute=ops.minute_costs(status), cpu_hour=status.compute_usd_per_hour)

    @ui.get("/search")
    def old_search(request: Request) -> Response:
        """The search page lives at ``/``; this keeps a typed ``/search?q=`` working."""
        query = request.url.query
        return RedirectResponse("/" + (f"?{query}" if query else ""), status_code=303)

    return ui


def _document_start(system: Mediasift, detail: AssetDetail) -> tuple[str, int | None]:
    """A document's first ``TEXT_SHOWN`` characters (the document itself: its chunks overlap), read from
    its first bytes only, and how many it has in all (as its chunking counted them; None when it is
    not chunked yet and longer than what was read)."""
    size = system.blobs.size(detail.sha256)
    reader = system.blobs.open_range(detail.sha256, 0, min(size, TEXT_BYTES_READ))
    try:
        data = b"".join(reader)
    finally:
        reader.close()
    encoding = str(detail.metadata.get("encoding") or "utf-8")
    whole = len(data) == size
    text = document_text(data, encoding, detail.mime, whole=whole)
    counted = next((a.data.get("chars") for a in detail.artifacts if a.kind == "chunks"), None)
    chars = counted if isinstance(counted, int) else len(text) if whole else None
    return text[:TEXT_SHOWN], chars
