"""The people pages: the signed-in tenant's people (faces grouped as one person each), a person and
where they appear, and the forms that name, merge and split them.

People belong to the session's own tenant (an admin's too: ``owning_tenant``); a person of another
tenant is not found, as over ``/v1/people``. The forms are POSTs the gate lets through only for
write and admin sessions, each with the session's CSRF token."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from mediasift.api.ui import portraits, views
from mediasift.api.ui.csrf import check_csrf
from mediasift.api.ui.render import page, session_of
from mediasift.cursors import BadCursor
from mediasift.service import AssetNotFound, Mediasift
from mediasift.service_errors import PersonConflict, PersonNotFound
from mediasift.service_models import AssetDetail, PersonDetail

PEOPLE_PAGE = 48
APPEARANCES = 200  # faces on a person's page
MERGE_CHOICES = 500  # people offered to merge in
MAX_REF = 200  # a person's id or name
DONE = {
    "named": "Saved the name.",
    "merged": "Merged: their faces are this person's now.",
    "split": "Moved that face out into this new person.",
}


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_REF] if isinstance(value, str) else ""


def router(system: Mediasift) -> APIRouter:
    ui = APIRouter(include_in_schema=False)

    def tenant_of(request: Request) -> str:
        return session_of(request).principal.owning_tenant()

    def details(asset_ids: Iterable[UUID], tenant: str) -> dict[UUID, AssetDetail]:
        found = {}
        for asset_id in dict.fromkeys(asset_ids):
            try:
                found[asset_id] = system.describe(asset_id, tenant=tenant)
            except AssetNotFound:  # deleted since
                continue
        return found

    def person_page(request: Request, person: PersonDetail, *, code: int = 200, error: str = "",
                    done: str = "") -> Response:  # fmt: skip
        tenant = tenant_of(request)
        found = details((a.asset_id for a in person.appearances), tenant)
        cards = {asset_id: views.card(detail) for asset_id, detail in found.items()}
        others = [p for p in system.people.page(tenant, limit=MERGE_CHOICES).people if p.id != person.id]
        return page(request, "person.html", code=code, person=person, error=error, done=DONE.get(done, ""),
                    seen=portraits.seen_in(person.appearances, found, cards), others=others,
                    can_change=session_of(request).principal.scope.value in ("write", "admin"))  # fmt: skip

    @ui.get("/people")
    def people_page(request: Request, cursor: Annotated[str | None, Query(max_length=512)] = None) -> Response:
        tenant = tenant_of(request)
        try:
            listed = system.people.page(tenant, cursor=cursor, limit=PEOPLE_PAGE)
        except BadCursor:
            return page(request, "missing.html", code=404, what="page of people")
        firsts = system.people.first_appearances(tenant, [p.id for p in listed.people])
        found = details((a.asset_id for a in firsts.values()), tenant)
        cards = []
        for person in listed.people:
            first = firsts.get(person.id)
            detail = found.get(first.asset_id) if first else None
            cards.append(portraits.person_card(person, first, detail, views.card(detail) if detail else None))
        return page(request, "people.html", people=cards, next_cursor=listed.next_cursor)

    @ui.get("/people/{person}")
    def show(request: Request, person: str, done: Annotated[str, Query(max_length=16)] = "") -> Response:
        try:
            detail = system.people.get(tenant_of(request), person[:MAX_REF], limit=APPEARANCES)
        except PersonNotFound:
            return page(request, "missing.html", code=404, what="person")
        return person_page(request, detail, done=done)

    async def changed(request: Request, person: str, change: str) -> Response:
        """Run ``change`` (name, merge or split) from its form; the person's page again on success, or
        with what was wrong (409) when the service refused."""
        await check_csrf(request)
        form = await request.form()
        tenant = tenant_of(request)
        ref = person[:MAX_REF]
        request.state.audit_target = ref
        try:
            if change == "named":
                target = (await run_in_threadpool(system.people.name, tenant, ref, _field(form, "name"))).id
            elif change == "merged":
                other = _field(form, "other")
                target = (await run_in_threadpool(system.people.merge, tenant, ref, [other])).person.id
            else:
                face = _field(form, "face")
                if not (face.isascii() and face.isdigit() and 0 < len(face) <= 18):
                    raise PersonConflict("choose a face of this person to move out")
                split = await run_in_threadpool(system.people.split, tenant, ref, [int(face)])
                target = split.split_off.id
        except (PersonConflict, PersonNotFound) as refused:  # the person, or the one to merge in, not found
            error = str(refused)
            try:
                current = await run_in_threadpool(system.people.get, tenant, ref, limit=APPEARANCES)
            except PersonNotFound:
                return page(request, "missing.html", code=404, what="person")
            return await run_in_threadpool(lambda: person_page(request, current, code=409, error=error))
        return RedirectResponse(f"/people/{target}?done={change}", status_code=303)

    @ui.post("/people/{person}/name")
    async def name(request: Request, person: str) -> Response:
        return await changed(request, person, "named")

    @ui.post("/people/{person}/merge")
    async def merge(request: Request, person: str) -> Response:
        return await changed(request, person, "merged")

    @ui.post("/people/{person}/split")
    async def split(request: Request, person: str) -> Response:
        return await changed(request, person, "split")

    return ui
