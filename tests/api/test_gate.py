"""The gate in front of the routes, tried as a hostile client would over a real socket: the key is
checked before a byte of the body is read, a chunked upload is cut off at the limit with the
server's memory bounded, cross-site writes from a browser are refused, each key's rate is held (429
with Retry-After), odd methods do not multiply the metric series, and hosts not trusted are refused."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mediasift.api.app import create_app
from mediasift.config import Settings

from support.apikeys import Keys, bearer
from support.apiserver import Served, serving

pytestmark = pytest.mark.alone

MIB = 1024 * 1024


@pytest.fixture
def served(settings: Settings, keys: Keys) -> Iterator[Served]:
    """``mediasift serve`` in its own process, uploads limited to 20 MiB."""
    with serving(settings, MEDIASIFT_MAX_FILE_BYTES=str(20 * MIB)) as server:
        yield server


def _answer_to_headers(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request head and the start of a body over a raw socket, and read what comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + body)
        return conn.recv(65536)


@pytest.mark.slow
def test_the_key_is_checked_before_the_body_is_read(served: Served, keys: Keys) -> None:
    port = served.port
    before = served.rss_bytes()
    head = (
        b"POST /v1/assets?filename=big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Length: 157286400\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    started = time.monotonic()
    answer = _answer_to_headers(port, head, os.urandom(64 * 1024))  # 64 KiB of a declared 150 MB
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert time.monotonic() - started < 5, "answered without waiting for the rest of the body"
    keyed = head.replace(
        b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\r\nAuthorization: Bearer " + keys.write.encode() + b"\r\n"
    )
    answer = _answer_to_headers(port, keyed, os.urandom(64 * 1024))
    assert answer.startswith(b"HTTP/1.1 413"), "a declared length over the limit is refused before it is read"
    assert served.rss_bytes() - before < 30 * MIB


@pytest.mark.slow
def test_a_chunked_multipart_upload_past_the_limit_is_cut_off(served: Served, keys: Keys, settings: Settings) -> None:
    base = served.base
    before = served.rss_bytes()
    sent = 0
    boundary = "xyzzy"

    def body() -> Iterator[bytes]:  # no Content-Length: chunked, 200 MiB if nobody stops it
        nonlocal sent
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'.encode()
        chunk = os.urandom(MIB)
        for _ in range(200):
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**bearer(keys.write), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    try:
        answer = httpx.post(f"{base}/v1/assets", content=body(), headers=headers, timeout=60)
        status = answer.status_code
    except httpx.TransportError:  # the server answered and closed while the client was still sending
        status = 413
    assert status == 413
    assert sent < 100 * MIB, f"the server read {sent / MIB:.0f} MiB before refusing"
    assert served.rss_bytes() - before < 50 * MIB
    assert not any((settings.home / "uploads").glob("*/*")), "nothing received is kept"
    after = httpx.get(f"{base}/v1/assets", headers=bearer(keys.write), timeout=10).json()["assets"]
    assert after == []


def test_a_cross_site_form_post_is_refused(settings: Settings, keys: Keys) -> None:
    """What a page on another site can make a browser send: a form post, with no Authorization header
    (a page cannot add one), and the browser's own Origin and Sec-Fetch-Site."""
    browser = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    with TestClient(create_app(settings)) as client:
        form = client.post("/v1/assets", data={"file": "x"}, headers=browser)
        assert form.status_code == 401
        plain = client.post(
            "/v1/assets?filename=a.txt", content=b"hello", headers={**browser, "Content-Type": "text/plain"}
        )
        assert plain.status_code == 401
        keyed = client.post(
            "/v1/assets?filename=a.txt", content=b"hello there", headers={**browser, **bearer(keys.write)}
        )
        assert keyed.status_code == 403 and "another site" in keyed.json()["detail"]
        other_origin = {"Origin": "http://evil.example", **bearer(keys.write)}
        assert client.post("/v1/assets?filename=a.txt", content=b"hi", headers=other_origin).status_code == 403
        assert client.get("/v1/assets", headers={**browser, **bearer(keys.write)}).status_code == 200, "reads pass"
        assert client.get("/v1/assets").headers.get("access-control-allow-origin") is None, "no CORS by default"


def test_each_key_has_its_own_rate(settings: Settings, keys: Keys) -> None:
    limited = settings.model_copy(update={"api_requests_per_minute": 60, "api_burst": 3})
    with TestClient(create_app(limited)) as client:
        answers = [client.get("/v1/assets", headers=bearer(keys.read)) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert answers[-1].headers["content-type"] == "application/problem+json"
        assert client.get("/v1/assets", headers=bearer(keys.write)).status_code == 200, "another key's own rate"
        time.sleep(1.05)  # one request a second comes back
        assert client.get("/v1/assets", headers=bearer(keys.read)).status_code == 200
        assert client.get("/v1/assets", headers=bearer(keys.read)).status_code == 429


def test_odd_methods_and_paths_do_not_multiply_the_metric_series(settings: Settings, keys: Keys) -> None:
    with TestClient(create_app(settings)) as client:
        for i in range(300):
            client.request(f"M{i}", f"/v1/x{i}", headers=bearer(keys.read))
            client.get(f"/nowhere/{i}")
        families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
        samples = families["mediasift_api_request_seconds"].samples
        assert {s.labels["method"] for s in samples} <= {"GET", "other"}
        assert {s.labels["route"] for s in samples} <= {"unmatched", "/metrics"}
        assert len(samples) < 100


def test_metrics_need_their_token_when_one_is_set(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"metrics_token": "scrape-me"}))) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=bearer("scrape-me")).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_hosts_not_trusted_are_refused(settings: Settings, keys: Keys) -> None:
    trusting = settings.model_copy(update={"api_trusted_hosts": "localhost,127.0.0.1"})
    with TestClient(create_app(trusting), base_url="http://127.0.0.1") as client:
        assert client.get("/v1/assets", headers=bearer(keys.read)).status_code == 200
        rebound = client.get("/v1/assets", headers={**bearer(keys.read), "Host": "attacker.example"})
        assert rebound.status_code == 400
        assert rebound.headers["content-type"] == "application/problem+json"
        assert "Host header" in rebound.json()["detail"]
        for host in ("localhost:8000", "LOCALHOST", "127.0.0.1"):
            assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in ("localhost.attacker.example", "127.0.0.1.nip.io:80", "", "[::1]"):
            assert client.get("/healthz", headers={"Host": host}).status_code == 400, host


def test_subdomains_of_a_trusted_domain_are_answered(settings: Settings) -> None:
    trusting = settings.model_copy(update={"api_trusted_hosts": "*.media.example"})
    with TestClient(create_app(trusting), base_url="http://a.media.example") as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz", headers={"Host": "b.a.media.example:443"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "media.example.attacker"}).status_code == 400
        assert client.get("/healthz", headers={"Host": "evilmedia.example"}).status_code == 400


def test_guessing_keys_is_slowed_per_client_address(settings: Settings, keys: Keys) -> None:
    with TestClient(create_app(settings)) as client:
        guesses = [client.get("/v1/assets", headers=bearer(f"ms_{i:016x}_guess")).status_code for i in range(21)]
        assert guesses[:20] == [401] * 20 and guesses[20] == 429
        assert client.get("/v1/assets", headers=bearer(keys.read)).status_code == 429, "the address waits"
        assert client.get("/healthz").status_code == 200


def test_a_key_sent_to_a_path_outside_the_api_is_told_where_the_api_is(settings: Settings, keys: Keys) -> None:
    """A program with a key asking for /v2/... meant an API route: 404 saying where the API is, not the
    web UI's "sign in first"; without a key the path is the web UI's, which wants a session."""
    with TestClient(create_app(settings)) as client:
        for path in ("/v2/assets", "/assets", "/" + "x" * 5000):
            answer = client.get(path, headers=bearer(keys.read))
            assert answer.status_code == 404, path
            assert answer.headers["content-type"] == "application/problem+json"
            assert "/v1/" in answer.json()["detail"] and len(answer.json()["detail"]) < 300
        assert client.get("/v2/assets").status_code == 401
        assert client.get("/static/app.css", headers=bearer(keys.read)).status_code == 200  # open to all
