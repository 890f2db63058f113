"""POST /assets/from-url over a real socket (uvicorn, as ``mediasift serve`` runs it): fetches run on
their own pool of ``url_fetch_concurrency`` threads, so while servers that trickle hold every one of
them, more fetches are refused at once with 429 and Retry-After, and /healthz still answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from mediasift.api.app import create_app
from mediasift.config import Settings

from support.apikeys import Keys, bearer
from support.webstub import WebStub, wait_for

pytestmark = pytest.mark.alone


@pytest.fixture
def web() -> Iterator[WebStub]:
    with WebStub(files={"note.txt": b"The lighthouse keeper wrote that the storm reached the harbour."}) as stub:
        yield stub


def _serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout_s=30)
    return server, thread, f"http://127.0.0.1:{port}"


def test_slow_fetches_hold_only_their_own_pool(settings: Settings, keys: Keys, web: WebStub) -> None:
    """Every 429 here is the fetch pool's: the per-key request limit is off."""
    slow = settings.model_copy(
        update={"url_fetch_private": True, "url_fetch_concurrency": 2, "url_fetch_min_bytes_per_s": 100,
                "url_fetch_rate_grace_s": 3, "url_fetch_rate_window_s": 1, "api_requests_per_minute": 0}
    )  # fmt: skip
    app = create_app(slow)
    server, thread, base = _serve(app)
    from_url, healthz = base + app.url_path_for("from_url"), base + app.url_path_for("healthz")
    auth = bearer(keys.write)

    def trickle(_: int) -> httpx.Response:
        return httpx.post(from_url, headers=auth, json={"url": web.url("/trickle")}, timeout=30)

    try:
        with ThreadPoolExecutor(45) as callers:
            held = [callers.submit(trickle, n) for n in range(2)]
            wait_for(lambda: len(web.asked) == 2)
            started = time.monotonic()
            more = list(callers.map(trickle, range(43)))
            refused_in = time.monotonic() - started
            started = time.monotonic()
            health = httpx.get(healthz, timeout=30)
            health_in = time.monotonic() - started
            assert {answer.status_code for answer in more} == {429}, more[0].text
            assert more[0].headers["retry-after"] == "10" and "too many downloads" in more[0].json()["detail"]
            assert refused_in < 3, f"43 refusals took {refused_in:.2f} s"
            assert health.json() == {"status": "ok"} and health_in < 1, f"/healthz took {health_in:.2f} s"
            assert len(web.asked) == 2, "the refused fetches never went out"
            for answer in (future.result() for future in held):
                assert answer.status_code == 422 and "slower than the minimum" in answer.json()["detail"]
        time.sleep(0.1)  # the pool's slots are free once the fetch threads return
        fetched = httpx.post(from_url, headers=auth, json={"url": web.url("/file/note.txt")}, timeout=30)
        assert fetched.status_code == 201, fetched.text
        assert fetched.json()["accepted"][0]["path"] == web.url("/file/note.txt")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
