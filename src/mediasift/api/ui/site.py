"""The web UI's routes in one router."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from mediasift.api.admission import FifoAdmission
from mediasift.api.ratelimit import RequestLimiter
from mediasift.api.ui import actions, auth, pages, people
from mediasift.api.ui.session import Sessions
from mediasift.net.pool import FetchPool
from mediasift.service import Mediasift


def router(
    system: Mediasift,
    fetches: FetchPool,
    registry: CollectorRegistry,
    sessions: Sessions,
    failures: RequestLimiter,
    searches: FifoAdmission,
) -> APIRouter:
    ui = APIRouter(include_in_schema=False)
    ui.include_router(auth.router(system, sessions, failures))
    ui.include_router(pages.router(system, searches))
    ui.include_router(people.router(system))
    ui.include_router(actions.router(system, fetches, registry))
    return ui
