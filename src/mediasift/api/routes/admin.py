"""Administration: keys, the system's status and models (admin keys), and the audit of API actions
(each tenant its own)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import Field

from mediasift.access import Scope
from mediasift.api.body import RequestBody
from mediasift.api.deps import Caller, ReadTenant
from mediasift.api.problems import documented
from mediasift.service import AssetNotFound, Mediasift
from mediasift.service_models import ApiActionList, ApiKeyList, CostReport, CreatedKey, ModelListing, Status
from mediasift.since import SINCE_HELP, parse_since


class NewKey(RequestBody):
    tenant: str = Field(max_length=63, description="Created when new.")
    scope: Scope
    name: str = Field(default="", max_length=200)
    expires_at: datetime | None = None


def router(system: Mediasift) -> APIRouter:
    api = APIRouter(prefix="/v1")

    @api.post("/keys", tags=["keys"], status_code=201, responses=documented(422))
    def create_key(body: NewKey, request: Request) -> CreatedKey:
        """A new key; the answer is the only time its secret is shown."""
        try:
            created = system.keys.create(body.tenant, body.scope, expires_at=body.expires_at, name=body.name)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        request.state.audit_target = created.id
        request.state.tenant = created.tenant
        return created

    @api.get("/keys", tags=["keys"], responses=documented(422))
    def list_keys(tenant: ReadTenant) -> ApiKeyList:
        return ApiKeyList(keys=system.keys.list(tenant))

    @api.delete(
        "/keys/{key_id}", tags=["keys"], status_code=204, response_class=Response, responses=documented(404, 422)
    )
    def revoke_key(key_id: str, request: Request, caller: Caller) -> Response:
        """Revoke a key: it stops working at once. A key cannot revoke itself over the API (the
        CLI can), so an admin cannot lock itself out by mistake."""
        request.state.audit_target = key_id
        if key_id == caller.key_id:
            raise HTTPException(422, "a key cannot revoke itself; use another admin key or `mediasift keys revoke`")
        if not system.keys.revoke(key_id):
            raise AssetNotFound(f"no key {key_id!r} that is not revoked")
        return Response(status_code=204)

    @api.get("/status", tags=["system"])
    def status() -> Status:
        """What ``mediasift status`` says: assets, queue, workers, models, confidence, cost."""
        return system.status().model_copy(update={"home": ""})

    @api.get("/cost", tags=["system"])
    def cost(
        since: Annotated[
            str | None, Query(max_length=64, description=f"Only runs finished since: {SINCE_HELP}.")
        ] = None,
    ) -> CostReport:
        """What ``mediasift cost`` says: cost and time per item by media type and operator, each
        model's share, and what the cache and the routers saved (every tenant's: an admin's view)."""
        try:
            moment = parse_since(since) if since else None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return system.cost(moment)

    @api.get("/models", tags=["system"])
    def models() -> ModelListing:
        return system.models()

    @api.get("/audit", tags=["audit"], responses=documented(422))
    def audit(
        tenant: ReadTenant,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> ApiActionList:
        """The audit of API actions (writes, downloads of originals) of the tenant, oldest first."""
        return system.api_actions(tenant=tenant, cursor=cursor, limit=limit)

    return api
