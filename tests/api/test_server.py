"""The API as served (api/server.py) over real sockets: connections that never finish a request head
are closed at the head deadline while real requests go on being answered, a head trickled a byte at a
time is closed at the same deadline, idle kept-alive connections are closed, and requests past the
concurrency limit get 503."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from mediasift.api.app import create_app
from mediasift.api.head_deadline import head_deadline_protocol
from mediasift.api.server import ApiThread, bind
from mediasift.config import Settings

from support.apikeys import make_keys

pytestmark = pytest.mark.alone

HEAD_TIMEOUT_S = 2.0
# What each kind of half-open connection sends before it goes silent.
PARTIAL_HEADS = [b"", b"GET /hea", b"GET /healthz HTTP/1.1\r\n", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag"]


@contextmanager
def served(settings: Settings, **changes: object) -> Iterator[tuple[str, int]]:
    """The API on a free port of 127.0.0.1 with these settings changed: (base URL, port)."""
    changed = settings.model_copy(update={"api_header_timeout_s": HEAD_TIMEOUT_S, **changes})
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    with ApiThread(create_app(changed), changed, sock) as api:
        yield api.url, port


def connect(port: int, first: bytes = b"") -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    if first:
        conn.sendall(first)
    return conn


def is_closed(conn: socket.socket) -> bool:
    """Whether the server has closed ``conn`` (EOF or reset), reading whatever it sent before."""
    try:
        while conn.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except BlockingIOError:
        return False
    return True


def closing_times(conns: list[socket.socket], within_s: float) -> dict[socket.socket, float]:
    """When the server closed each of ``conns`` (time.monotonic()), watching for ``within_s`` at most."""
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for conn in conns:
            conn.setblocking(False)
            selector.register(conn, selectors.EVENT_READ)
        deadline = time.monotonic() + within_s
        while len(closed) < len(conns) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.05):
                conn = key.fileobj
                assert isinstance(conn, socket.socket)
                if is_closed(conn):
                    closed[conn] = time.monotonic()
                    selector.unregister(conn)
    return closed


def test_half_open_connections_are_closed_at_the_head_deadline_while_health_answers(settings: Settings) -> None:
    with served(settings) as (url, port):
        opened: dict[socket.socket, float] = {}
        for i in range(300):
            conn = connect(port, PARTIAL_HEADS[i % len(PARTIAL_HEADS)])
            opened[conn] = time.monotonic()
        last_opened = max(opened.values())
        try:
            latencies = []
            while time.monotonic() < last_opened + HEAD_TIMEOUT_S * 0.7:
                started = time.monotonic()
                answer = httpx.get(f"{url}/healthz", timeout=5)
                latencies.append(time.monotonic() - started)
                assert answer.status_code == 200 and answer.json() == {"status": "ok"}
            assert len(latencies) >= 5 and max(latencies) < 1.0, latencies
            still_open = [conn for conn in opened if not is_closed_now(conn)]
            assert len(still_open) == 300, "closed before the deadline"

            closed = closing_times(list(opened), within_s=HEAD_TIMEOUT_S + 3)
            assert len(closed) == 300, f"{300 - len(closed)} half-open connections were left open"
            waited = [closed[conn] - opened[conn] for conn in opened]
            assert HEAD_TIMEOUT_S - 0.05 < min(waited) <= max(waited) < HEAD_TIMEOUT_S + 1.0, (min(waited), max(waited))
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        finally:
            for conn in opened:
                conn.close()


def is_closed_now(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return is_closed(conn)
    finally:
        conn.setblocking(True)


def test_a_head_trickled_a_byte_at_a_time_is_closed_at_the_deadline_not_kept_by_each_byte(settings: Settings) -> None:
    with served(settings) as (_, port):
        conn = connect(port)
        opened = time.monotonic()
        sent = []

        def trickle() -> None:
            for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    return
                sent.append(time.monotonic())
                time.sleep(0.5)  # four bytes a deadline: each one well inside any per-byte timeout

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        closed = closing_times([conn], within_s=HEAD_TIMEOUT_S + 3)
        conn.close()
        sender.join(timeout=5)
    assert conn in closed, "a trickled head was never closed"
    waited = closed[conn] - opened
    assert HEAD_TIMEOUT_S - 0.05 < waited < HEAD_TIMEOUT_S + 1.0, waited
    assert len(sent) >= 4


def test_kept_alive_connections_close_when_idle_and_a_second_head_has_its_own_deadline(settings: Settings) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with served(settings, api_keepalive_timeout_s=1) as (_, port):
        idle = connect(port, request)
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        second = connect(port, request)
        assert second.recv(65536).startswith(b"HTTP/1.1 200")
        second.sendall(b"GET /hea")  # the next request's head starts, then stops
        started = time.monotonic()
        closed = closing_times([idle, second], within_s=HEAD_TIMEOUT_S + 3)
        idle.close()
        second.close()
    assert 1.0 - 0.05 < closed[idle] - answered < 2.0
    assert HEAD_TIMEOUT_S - 0.05 < closed[second] - started < HEAD_TIMEOUT_S + 1.0


def test_requests_past_the_concurrency_limit_get_503_until_one_finishes(settings: Settings) -> None:
    key = make_keys(settings).write
    with served(settings, api_max_concurrency=2) as (url, port):
        # Uploads whose bodies stop halfway: two requests held in the app, waiting for the rest.
        upload = (
            f"POST /v1/assets?filename=a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Content-Length: 1000\r\n\r\nhalf"
        ).encode()
        held = [connect(port, upload) for _ in range(2)]
        deadline, answer = time.monotonic() + 10, httpx.get(f"{url}/healthz", timeout=5)
        while answer.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
            answer = httpx.get(f"{url}/healthz", timeout=5)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1", answer.text
        assert "limit" in answer.json()["detail"]
        for conn in held:
            conn.close()
        deadline = time.monotonic() + 10
        while answer.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
            answer = httpx.get(f"{url}/healthz", timeout=5)
        assert answer.status_code == 200


def test_a_head_timeout_must_be_positive() -> None:
    assert head_deadline_protocol(0.5).head_timeout_s == 0.5
    with pytest.raises(ValueError, match="positive"):
        head_deadline_protocol(0)
