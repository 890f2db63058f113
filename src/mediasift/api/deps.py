"""What routes take from a request: the principal the gate let through, the tenant it reads, and
server paths turned into names a client may see.

The dependencies are ``async`` though they never wait: FastAPI runs a plain function dependency in
its thread pool, a hop to another thread and back for each one, three per search (the principal, the
tenant, the filters). On the event loop they save about half a millisecond of the API's CPU a
search: a keyword query's API CPU was 0.72-0.76 of PostgreSQL's against 0.79-0.81 with them plain
(1M segments, 400 queries, three interleaved pairs; the machine's speed drifts too much between runs
to compare milliseconds)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from mediasift.access import Principal, check_tenant_name
from mediasift.db.search_filters import SHOWN_AS_RECORDED, SHOWN_BY_NAME
from mediasift.service_models import AssetResult, MomentResult, SearchResults

TenantQuery = Annotated[
    str | None,
    Query(description="An admin key's choice of tenant (every tenant when absent); other keys read their own."),
]


async def principal(request: Request) -> Principal:
    found = request.state.principal if hasattr(request.state, "principal") else None
    if not isinstance(found, Principal):  # only a route the gate does not guard could get here
        raise HTTPException(401, "a valid API key is required")
    return found


Caller = Annotated[Principal, Depends(principal)]


async def reading_tenant(caller: Caller, tenant: TenantQuery = None) -> str | None:
    """The tenant whose data the request reads (None: every tenant, for an admin asking for none)."""
    if tenant is not None:
        try:
            check_tenant_name(tenant)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
    return caller.visible_tenant(tenant)


async def owning_tenant(request: Request, caller: Caller, tenant: TenantQuery = None) -> str:
    """The tenant what the request creates belongs to (an admin may name one), noted for the audit."""
    try:
        owner = caller.owning_tenant(tenant)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    request.state.tenant = owner
    return owner


ReadTenant = Annotated[str | None, Depends(reading_tenant)]
OwnTenant = Annotated[str, Depends(owning_tenant)]


def public_source(source: str) -> str:
    """Where an asset came from, as a client may see it: uploads and URLs as recorded, a file ingested
    from this server's disk by its name only (``file:NAME``), never its path."""
    if source.startswith(SHOWN_AS_RECORDED):
        return source
    return SHOWN_BY_NAME + PurePosixPath(source).name


def public_results(found: SearchResults) -> SearchResults:
    """Search results with each source as a client may see it (:func:`public_source`)."""
    results = [
        _seen(item, moments=[_seen(m) for m in item.moments]) if isinstance(item, AssetResult) else _seen(item)
        for item in found.results
    ]
    return found.model_copy(update={"results": results})


def _seen(item: AssetResult | MomentResult, **update: object) -> AssetResult | MomentResult:
    source = public_source(item.source_path) if item.source_path else None
    return item.model_copy(update={"source_path": source, **update})
