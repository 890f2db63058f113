"""Health, readiness and metrics: what load balancers and Prometheus ask, without an API key."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel

from mediasift.api.problems import documented
from mediasift.service import Mediasift


class Health(BaseModel):
    status: Literal["ok"]


class PrometheusText(Response):
    media_type = CONTENT_TYPE_LATEST


def router(system: Mediasift, registry: CollectorRegistry) -> APIRouter:
    api = APIRouter(tags=["system"])

    @api.get("/healthz")
    async def healthz() -> Health:
        """The API process answers (no database call: a liveness probe)."""
        return Health(status="ok")

    @api.get("/readyz", responses=documented(503))
    def readyz() -> Health:
        """The database and the broker answer (a readiness probe); 503 when one does not."""
        system.ready()
        return Health(status="ok")

    @api.get("/metrics", response_class=PrometheusText)
    def metrics() -> PrometheusText:
        """Prometheus: what ``status`` says, request latency per route, and this process's figures."""
        return PrometheusText(generate_latest(registry))

    return api
