"""Search: moments across the tenant's assets, and the assets most like one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mediasift.api.deps import ReadTenant, public_hit, public_source
from mediasift.api.problems import documented
from mediasift.mediatype import MediaType
from mediasift.service import Mediasift
from mediasift.service_models import SearchMode, SearchResults, SimilarList


def router(system: Mediasift) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["search"])

    @api.get("/search", responses=documented(422))
    def search(
        q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for.")],
        tenant: ReadTenant,
        media_type: Annotated[MediaType | None, Query(alias="type")] = None,
        mode: SearchMode = SearchMode.HYBRID,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    ) -> SearchResults:
        """Moments of the tenant's assets, best first, with the fields of ``search --json``."""
        hits = system.search(
            q, limit=limit, media_type=media_type.value if media_type else None, mode=mode, tenant=tenant
        )
        return SearchResults(results=[public_hit(hit) for hit in hits])

    @api.get("/assets/{asset}/similar", responses=documented(404, 422))
    def similar(asset: str, tenant: ReadTenant, limit: Annotated[int, Query(ge=1, le=1000)] = 10) -> SimilarList:
        """The tenant's assets most like this one: near-duplicates first."""
        asset_id = system.resolve(asset, tenant=tenant)
        found = SimilarList.of(asset_id, system.similar(asset_id, limit=limit, tenant=tenant))
        return found.model_copy(
            update={
                "similar": [
                    s.model_copy(update={"source_path": public_source(s.source_path) if s.source_path else None})
                    for s in found.similar
                ]
            }
        )

    return api
