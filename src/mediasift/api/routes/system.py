"""Health, readiness and metrics: what load balancers and Prometheus ask, without an API key."""

from __future__ import annotations

import asyncio
from typing import Literal

from anyio import to_thread
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel

from mediasift.api.problems import documented
from mediasift.service import Mediasift, NotReady


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
    async def readyz() -> Health:
        """The database and the broker answer (a readiness probe), within a few seconds; 503 with the
        one that does not, and why."""
        within = system.settings.api_ready_timeout_s

        async def reached(part: str) -> str | None:
            try:
                # abandoned on timeout: a broker client retrying its connection must not hold the answer
                await asyncio.wait_for(to_thread.run_sync(system.ready, part, abandon_on_cancel=True), within)
            except TimeoutError:
                return f"the {part} did not answer within {within:g} s"
            except NotReady as exc:
                return str(exc)
            return None

        problems = [p for p in await asyncio.gather(reached("database"), reached("broker")) if p]
        if problems:
            raise NotReady("; ".join(problems))
        return Health(status="ok")

    @api.get("/metrics", response_class=PrometheusText)
    def metrics() -> PrometheusText:
        """Prometheus: what ``status`` says, request latency per route, and this process's figures."""
        return PrometheusText(generate_latest(registry))

    return api
