"""Clients of the HTTP API with real keys: a write key of tenant ``alpha`` by default."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mediasift.api.app import create_app
from mediasift.config import Settings
from mediasift.service import Mediasift

from support.apikeys import Keys, bearer, make_keys


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return make_keys(settings)


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """The test's settings, fetching from the local test web server allowed."""
    return settings.model_copy(update={"url_fetch_private": True})


@pytest.fixture
def client(api_settings: Settings, keys: Keys) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings), headers=bearer(keys.write)) as test_client:
        yield test_client


@pytest.fixture
def worker(api_settings: Settings) -> Iterator[None]:
    """A worker of the test's system on a thread (the API never analyses in its own process)."""
    system = Mediasift(api_settings)
    worker = system.worker(concurrency=1)
    thread = threading.Thread(target=system.run_worker, args=(worker,), daemon=True)
    thread.start()
    yield
    worker.stop()
    thread.join(timeout=60)
    system.close()
