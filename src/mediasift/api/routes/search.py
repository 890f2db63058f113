"""Search: moments across the tenant's assets, the assets most like one, and the duplicates among them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mediasift.api.admission import FifoAdmission, share
from mediasift.api.deps import Caller, ReadTenant, public_results, public_source
from mediasift.api.problems import documented
from mediasift.api.routes.assets import MULTIPART_FIELDS
from mediasift.db.search_filters import SHOWN_PREFIXES
from mediasift.media.pictures import Unreadable
from mediasift.mediatype import MediaType
from mediasift.search.query import MAX_QUERY_CHARS
from mediasift.service import Mediasift
from mediasift.service_errors import PersonNotFound
from mediasift.service_models import (
    AssetFilters,
    DuplicateMember,
    DuplicateReport,
    Group,
    PictureMatches,
    SearchMode,
    SearchResults,
    SimilarList,
)

_PICTURE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

T = TypeVar("T")


async def search_filters(
    caller: Caller,
    ingested_after: Annotated[datetime | None, Query(description="Ingested at or after (ISO 8601).")] = None,
    ingested_before: Annotated[datetime | None, Query(description="Ingested before (ISO 8601).")] = None,
    recorded_after: Annotated[
        datetime | None, Query(description="Recorded at or after: EXIF capture time, container creation time.")
    ] = None,
    recorded_before: Annotated[datetime | None, Query(description="Recorded before.")] = None,
    min_duration: Annotated[float | None, Query(ge=0, allow_inf_nan=False, description="Seconds, at least.")] = None,
    max_duration: Annotated[float | None, Query(ge=0, allow_inf_nan=False, description="Seconds, at most.")] = None,
    language: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2,3}$", description="ISO 639-1 or 639-3 code of its text or speech.")
    ] = None,
    has_faces: Annotated[bool | None, Query(description="Only assets with (true) or without (false) faces.")] = None,
    label: Annotated[
        str | None, Query(min_length=1, max_length=100, description="An image label or detected object it shows.")
    ] = None,
    source_prefix: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=1000,
            description="A source it was ingested from begins so: upload:, http(s):// or file:NAME as the API "
            "shows sources; a path on the server's disk takes an admin key.",
        ),
    ] = None,
    person: Annotated[
        str | None, Query(min_length=1, max_length=200, description="A person who appears in it: name or id.")
    ] = None,
) -> AssetFilters:
    """The filters of a search request; 422 with the reason for a range that cannot hold anything, or
    for a source prefix that is a server path from a key that is not an admin's: the API shows other
    keys a file's name, never its folders, and a filter on them would tell which folders hold the
    tenant's files. ``async`` to run on the event loop, not in the thread pool (see
    :mod:`mediasift.api.deps`)."""
    if source_prefix is not None and not caller.is_admin and not source_prefix.startswith(SHOWN_PREFIXES):
        raise HTTPException(
            422,
            "source_prefix: a path on the server takes an admin key; other keys match sources as the API shows "
            "them (upload:..., http://..., https://..., file:NAME)",
        )
    try:
        return AssetFilters(
            ingested_after=ingested_after, ingested_before=ingested_before, recorded_after=recorded_after,
            recorded_before=recorded_before, min_duration=min_duration, max_duration=max_duration,
            language=language, has_faces=has_faces, label=label, source_prefix=source_prefix,
            person=person,
        )  # fmt: skip
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def router(system: Mediasift, searches: FifoAdmission) -> APIRouter:
    """The search routes; each search waits its turn at ``searches``, which the web UI's share."""
    api = APIRouter(prefix="/v1", tags=["search"])

    def admitted(search: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with searches.admitted():
            return search(*args, **kwargs)

    @api.get("/search", responses=documented(422, 503))
    def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for.")],
        tenant: ReadTenant,
        filters: Annotated[AssetFilters, Depends(search_filters)],
        media_type: Annotated[MediaType | None, Query(alias="type")] = None,
        mode: SearchMode = SearchMode.HYBRID,
        group: Annotated[Group, Query(description="asset: one result per asset; moment: per moment.")] = Group.ASSET,
        limit: Annotated[int, Query(ge=1, le=1000, description="Results (assets or moments) at most.")] = 10,
    ) -> SearchResults:
        """The tenant's assets (or moments) best first, with the fields of ``search --json``."""
        try:
            with searches.admitted(share(mode)):
                found = system.answers(
                    q, group=group, limit=limit, media_type=media_type.value if media_type else None, mode=mode,
                    tenant=tenant, filters=filters,
                )  # fmt: skip
        except PersonNotFound as exc:  # a filter that names no one: the request's fault, not a missing route
            raise HTTPException(422, f"person: {exc}") from None
        return public_results(found)

    @api.post("/search/by-image", responses=documented(413, 422, 503), openapi_extra=_PICTURE_BODY)
    async def by_image(
        request: Request, tenant: ReadTenant, limit: Annotated[int, Query(ge=1, le=1000)] = 10
    ) -> PictureMatches:
        """The tenant's images and videos whose pictures (a video's shot keyframes) look most like the
        picture sent: multipart/form-data with a ``file`` field, or the raw bytes as the body. At most
        the API's body limit (``api_max_body_bytes``: 413 past it); 422 with the reason when it is not
        a picture that can be read. Near-duplicates first; a match's ``other_start`` is the shot's time."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=MULTIPART_FIELDS)
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise HTTPException(422, 'a multipart request needs its picture in a field named "file"')
            data = await part.read()
        else:
            data = await request.body()
        if not data:
            raise HTTPException(422, 'no picture: send its bytes as the body or in a multipart field named "file"')
        try:
            found = await run_in_threadpool(admitted, system.similar_to_picture, data, limit=limit, tenant=tenant)
        except Unreadable as exc:
            raise HTTPException(422, str(exc)) from None
        return found.model_copy(
            update={
                "similar": [
                    s.model_copy(update={"source_path": public_source(s.source_path) if s.source_path else None})
                    for s in found.similar
                ]
            }
        )

    @api.get("/assets/{asset}/similar", responses=documented(404, 422, 503))
    def similar(asset: str, tenant: ReadTenant, limit: Annotated[int, Query(ge=1, le=1000)] = 10) -> SimilarList:
        """The tenant's assets most like this one: near-duplicates first."""
        asset_id = system.resolve(asset, tenant=tenant)
        found = SimilarList.of(asset_id, admitted(system.similar, asset_id, limit=limit, tenant=tenant))
        return found.model_copy(
            update={
                "similar": [
                    s.model_copy(update={"source_path": public_source(s.source_path) if s.source_path else None})
                    for s in found.similar
                ]
            }
        )

    @api.get("/duplicates", responses=documented(422, 503))
    def duplicates(
        tenant: ReadTenant,
        limit: Annotated[int, Query(ge=1, le=1000, description="Clusters of each kind at most.")] = 100,
    ) -> DuplicateReport:
        """The tenant's exact copies (the same file ingested from several sources, or the same video
        stream in another file), apart from clusters of videos that are copies of one another by the
        sequence of their shots: re-encoded, resized, trimmed, or one inside another. Two videos
        that only share an intro (black, a title card) are not duplicates. Largest clusters first."""
        found = admitted(system.duplicates, limit=limit, tenant=tenant)

        def seen(member: DuplicateMember) -> DuplicateMember:
            return member.model_copy(update={"sources": [public_source(source) for source in member.sources]})

        return found.model_copy(
            update={
                "exact": [c.model_copy(update={"members": [seen(m) for m in c.members]}) for c in found.exact],
                "similar": [c.model_copy(update={"members": [seen(m) for m in c.members]}) for c in found.similar],
            }
        )

    return api
