"""Webhooks: where the tenant's asset events are POSTed, signed (the Standard Webhooks scheme).
Making and removing one needs a write key (the gate's rule for every POST and DELETE)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import Field

from mediasift.api.body import RequestBody
from mediasift.api.deps import OwnTenant, ReadTenant
from mediasift.api.problems import documented
from mediasift.service import Mediasift
from mediasift.service_models import CreatedWebhook, WebhookList


class NewWebhook(RequestBody):
    url: str = Field(max_length=2000, description="Where to POST the events: http or https, a public host.")
    events: Annotated[
        list[str], Field(min_length=1, max_length=3, description="asset.analysed, asset.failed, asset.deleted")
    ]


def router(system: Mediasift) -> APIRouter:
    api = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

    @api.post("", status_code=201, responses=documented(422))
    def create(body: NewWebhook, tenant: OwnTenant, request: Request) -> CreatedWebhook:
        """A webhook of the tenant; the answer is the only time its signing secret is shown."""
        try:
            created = system.add_webhook(body.url, body.events, tenant=tenant)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        request.state.audit_target = str(created.id)
        return created

    @api.get("", responses=documented(422))
    def listing(tenant: ReadTenant) -> WebhookList:
        """The tenant's webhooks (never their secrets), with how each one's latest delivery went."""
        return system.webhooks(tenant=tenant)

    @api.delete("/{webhook_id}", status_code=204, response_class=Response, responses=documented(404, 422))
    def remove(webhook_id: UUID, tenant: ReadTenant, request: Request) -> Response:
        """Stop sending to the webhook (404 when the tenant has no such webhook)."""
        request.state.audit_target = str(webhook_id)
        system.remove_webhook(webhook_id, tenant=tenant)
        return Response(status_code=204)

    return api
