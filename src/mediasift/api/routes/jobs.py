"""Jobs: the dead letters of the tenant's assets, one job, re-driving. A dead letter's traceback
names the server's files and code: only an admin key sees it (a tenant's key sees the error's class
and message)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from mediasift.api.deps import Caller, ReadTenant
from mediasift.api.problems import documented
from mediasift.service import AssetNotFound, Mediasift
from mediasift.service_models import DeadLetterList, JobDetail


class Requeued(BaseModel):
    requeued: int  # dead jobs queued again


def router(system: Mediasift) -> APIRouter:
    api = APIRouter(prefix="/v1/jobs", tags=["jobs"])

    @api.get("/dead", responses=documented(422))
    def dead_letters(
        caller: Caller,
        tenant: ReadTenant,
        operator: Annotated[str | None, Query(max_length=100)] = None,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> DeadLetterList:
        """Dead jobs of the tenant's assets, oldest first, a page at a time (tracebacks for admin keys)."""
        page = system.dead_letter_page(operator, tenant=tenant, cursor=cursor, limit=limit)
        return page if caller.is_admin else page.without_tracebacks()

    @api.get("/{job_id}", responses=documented(404))
    def job(job_id: str, caller: Caller, tenant: ReadTenant) -> JobDetail:
        """One job (``ASSET_ID:OPERATOR``): its state, and its dead letter if it has one (its traceback
        for admin keys)."""
        found = system.job(job_id, tenant=tenant)
        return found if caller.is_admin else found.without_traceback()

    @api.post("/{job_id}/redrive", responses=documented(404))
    def redrive(job_id: str, tenant: ReadTenant) -> Requeued:
        """Queue a dead job again from attempt 1 (404 when the tenant has no such dead job)."""
        count = system.redrive([job_id], tenant=tenant)
        if count == 0:
            raise AssetNotFound(f"no dead job {job_id!r}")
        return Requeued(requeued=count)

    return api
